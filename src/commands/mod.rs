//! One module per subcommand; [`dispatch`] picks the one the command line names. Where each
//! finds the journal is decided in one place, `journal_path`.

mod doctor;
mod export;
mod history;
mod input;
mod journal_path;
mod plan;
mod reconcile;
mod report;
mod revoke;
mod run;
mod runs;
mod settings;
mod shell;
mod simulate;
mod status;
mod validate;

use std::path::{Path, PathBuf};

use anyhow::anyhow;

use crate::cli::{Cli, Command, JournalArgs};
use crate::exit::Failure;

/// Runs the command and returns its exit code.
pub async fn dispatch(cli: Cli) -> Result<i32, Failure> {
    match cli.command {
        Command::Run(args) => run::run(args).await,
        Command::Validate(args) => validate::validate(&args),
        Command::Status(args) => status::status(&args),
        Command::Simulate(args) => simulate::simulate(args).await,
        Command::Doctor(args) => doctor::doctor(&args).await,
        Command::Report(args) => report::report(&args),
        Command::Runs(args) => runs::runs(&args),
        Command::History(args) => history::history(&args),
        Command::Export(args) => export::export(&args),
        Command::Reconcile(args) => reconcile::reconcile(&args).await,
        Command::Revoke(args) => revoke::revoke(&args).await,
        Command::Plan(args) => plan::plan(args).await,
        Command::Apply(args) => plan::apply(&args).await,
        Command::Completions(args) => shell::completions(&args),
        Command::Man(args) => shell::man(&args),
    }
}

use journal_path::LEGACY_JOURNAL;

/// [`refuse_journal_file`] for a journal given as [`JournalArgs`] holding its resolved path
/// (see [`journal_path`] for how it is found); without one, the old default.
pub(crate) fn refuse_journal_path(
    option: &str,
    out: &Path,
    journal: &JournalArgs,
) -> Result<(), Failure> {
    let journal = journal
        .journal
        .clone()
        .unwrap_or_else(|| PathBuf::from(LEGACY_JOURNAL));
    refuse_journal_file(option, out, &journal)
}

/// Refuses an output path that is the journal, or its `-wal` or `-shm` file: writing there
/// would destroy the record of who was invited. Paths are compared once resolved (symbolic
/// links followed, `..` removed); an output that does not exist yet is resolved through its
/// directory. Every option that writes a file checks its path here before anything is written.
pub(crate) fn refuse_journal_file(option: &str, out: &Path, journal: &Path) -> Result<(), Failure> {
    let (Some(out_resolved), Some(journal_resolved)) = (resolve(out), resolve(journal)) else {
        return Ok(());
    };
    // A journal reached through a link has its -wal and -shm files next to the link or next to
    // its target, depending on the SQLite build: both are refused.
    let bases = [Some(journal_resolved), resolve_directory(journal)];
    let is_journal_file = bases.iter().flatten().any(|base| {
        ["", "-wal", "-shm"].iter().any(|suffix| {
            let mut name = base.clone().into_os_string();
            name.push(suffix);
            name == out_resolved.as_os_str()
        })
    });
    if is_journal_file || same_existing_file(out, journal) {
        return Err(Failure::usage(anyhow!(
            "refusing to write {option} {}: it is the journal {} (or one of its files), which \
             would be destroyed; pass another path",
            crate::terminal::safe(&out.display().to_string()),
            crate::terminal::safe(&journal.display().to_string())
        )));
    }
    Ok(())
}

/// `path` made absolute with every symbolic link followed, also when the file (or the target of
/// a dangling link) does not exist yet: then its directory is resolved and its name appended.
fn resolve(path: &Path) -> Option<PathBuf> {
    let mut path = std::path::absolute(path).ok()?;
    // A chain of dangling links is followed a few steps, as the kernel would on open.
    for _ in 0..16 {
        if let Ok(resolved) = path.canonicalize() {
            return Some(resolved);
        }
        match std::fs::read_link(&path) {
            Ok(target) => {
                let parent = path.parent()?.to_path_buf();
                path = parent.join(target);
            }
            Err(_) => {
                let name = path.file_name()?.to_owned();
                let parent = path.parent()?;
                let parent = parent
                    .canonicalize()
                    .unwrap_or_else(|_| parent.to_path_buf());
                return Some(parent.join(name));
            }
        }
    }
    None
}

/// `path` made absolute through its resolved directory, its own name kept even if it is a link.
fn resolve_directory(path: &Path) -> Option<PathBuf> {
    let path = std::path::absolute(path).ok()?;
    let parent = path.parent()?.canonicalize().ok()?;
    Some(parent.join(path.file_name()?))
}

/// Whether two existing paths are one file (hard links included).
fn same_existing_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(a), Ok(b)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return a.dev() == b.dev() && a.ino() == b.ino();
        }
    }
    #[cfg(not(unix))]
    let _ = (a, b);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal_args(path: &Path) -> JournalArgs {
        JournalArgs {
            journal: Some(path.to_owned()),
        }
    }

    #[test]
    fn the_journal_and_its_files_are_refused_also_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j.db");
        std::fs::write(&journal, b"journal").unwrap();
        let args = journal_args(&journal);
        for out in ["j.db", "j.db-wal", "j.db-shm", "sub/../j.db"] {
            std::fs::create_dir_all(dir.path().join("sub")).unwrap();
            let err = refuse_journal_path("--out", &dir.path().join(out), &args).unwrap_err();
            assert_eq!(err.code, crate::exit::USAGE);
            assert!(err.to_string().contains("j.db"), "{err}");
        }
        #[cfg(unix)]
        {
            let link = dir.path().join("link.csv");
            std::os::unix::fs::symlink(&journal, &link).unwrap();
            assert!(refuse_journal_path("--out", &link, &args).is_err());
            // A dangling link to the -wal file, which does not exist yet.
            let wal_link = dir.path().join("wal.csv");
            std::os::unix::fs::symlink("j.db-wal", &wal_link).unwrap();
            assert!(refuse_journal_path("--out", &wal_link, &args).is_err());
            let hard = dir.path().join("hard.csv");
            std::fs::hard_link(&journal, &hard).unwrap();
            assert!(refuse_journal_path("--out", &hard, &args).is_err());
        }
        assert!(refuse_journal_path("--out", &dir.path().join("out.csv"), &args).is_ok());
        assert!(refuse_journal_path("--out", &dir.path().join("j.db-x"), &args).is_ok());
    }
}
