//! Where the journal lives, decided in one place for every command.
//!
//! One organization has one journal, wherever the tool is run from: by default
//! `$XDG_STATE_HOME/atlas-invite/<orgId>.db`, else `$HOME/.local/state/atlas-invite/<orgId>.db`
//! (the same rule on every platform), and `simulate-<orgId>.db` next to them for `--simulate`,
//! so that demonstrations never mix with real runs. A journal in the current directory decided
//! per directory, so running the same file from another directory started a second journal and
//! invited everybody again.
//!
//! In order, the first that applies:
//! 1. `--journal` or `ATLAS_INVITE_JOURNAL` (clap reads both into [`JournalArgs`]);
//! 2. `./atlas-invite.db` (`./atlas-invite-simulate.db` for `--simulate`) if it exists: the
//!    default of earlier versions, kept so that nobody's history splits, with a note saying how
//!    to move it;
//! 3. the organization's file in the state directory, when the organization is known;
//! 4. for the commands that only read, without an organization: the only journal of the state
//!    directory, or a usage error naming them when there are several;
//! 5. with neither variable usable, `./atlas-invite.db`, with a note.
//!
//! The decisions are pure functions of what the caller read from the process ([`Env`], whether
//! the old file exists, the state directory's listing), tested as tables below; the functions
//! that read the process, print the notes and create the directory are the thin `for_*` ones.
//! The journal file itself is created owner-only by [`crate::journal::Journal::open`].

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::anyhow;

use crate::atlas::model::is_atlas_id;
use crate::cli::{ApiArg, AtlasArgs, JournalArgs, RunArgs};
use crate::exit::Failure;
use crate::terminal::safe;

/// The journal of earlier versions, in the current directory.
pub const LEGACY_JOURNAL: &str = "atlas-invite.db";
/// The `--simulate` journal of earlier versions, in the current directory.
pub const LEGACY_SIMULATE_JOURNAL: &str = "atlas-invite-simulate.db";
/// The tool's directory inside the state directory.
const APP_DIR: &str = "atlas-invite";
/// Prefix of the `--simulate` journals in the state directory.
const SIMULATE_PREFIX: &str = "simulate-";
/// Suffix of every journal file.
const SUFFIX: &str = ".db";
/// Stands for the organization id in a path shown when the organization is not known.
const ORG_PLACEHOLDER: &str = "<orgId>";

/// The variables that locate the state directory, read once by the caller so that the
/// decisions can be tested without touching the process.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `XDG_STATE_HOME`.
    pub xdg_state_home: Option<OsString>,
    /// `HOME`.
    pub home: Option<OsString>,
}

impl Env {
    /// The process's variables.
    pub fn from_process() -> Env {
        Env {
            xdg_state_home: std::env::var_os("XDG_STATE_HOME"),
            home: std::env::var_os("HOME"),
        }
    }
}

/// `$XDG_STATE_HOME/atlas-invite`, else `$HOME/.local/state/atlas-invite`; `None` when neither
/// is an absolute path. The XDG specification tells to ignore a relative path in its variables
/// (and one would put the journal wherever the tool is run from, the very thing avoided here).
///
/// See: <https://specifications.freedesktop.org/basedir-spec/latest/>
pub fn state_dir(env: &Env) -> Option<PathBuf> {
    let absolute = |value: &Option<OsString>| {
        value
            .as_ref()
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    absolute(&env.xdg_state_home)
        .or_else(|| absolute(&env.home).map(|home| home.join(".local").join("state")))
        .map(|dir| dir.join(APP_DIR))
}

/// Which journal: the one of real runs, or the one of `--simulate` demonstrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Real,
    Simulate,
}

impl Kind {
    /// The file name of the organization's journal in the state directory.
    pub fn file_name(self, org_id: &str) -> String {
        match self {
            Kind::Real => format!("{org_id}{SUFFIX}"),
            Kind::Simulate => format!("{SIMULATE_PREFIX}{org_id}{SUFFIX}"),
        }
    }

    /// The journal of earlier versions, relative to the current directory.
    pub fn legacy(self) -> &'static str {
        match self {
            Kind::Real => LEGACY_JOURNAL,
            Kind::Simulate => LEGACY_SIMULATE_JOURNAL,
        }
    }
}

/// How the journal was chosen, which says what note goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--journal` or `ATLAS_INVITE_JOURNAL`.
    Given,
    /// The old default in the current directory; `moved_to` is where it belongs now, when the
    /// state directory and the organization are known.
    Legacy { moved_to: Option<PathBuf> },
    /// The organization's file in the state directory.
    State,
    /// The only journal of the state directory, for a command given no organization.
    OnlyOne,
    /// No usable state directory: the old default in the current directory.
    NoStateDir,
}

/// A journal path and how it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub source: Source,
}

/// A journal found in the state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub path: PathBuf,
    pub org_id: String,
    pub kind: Kind,
}

impl Known {
    /// The journal a file of the state directory is, judged by its name: `<orgId>.db` or
    /// `simulate-<orgId>.db`. Other files are not the tool's.
    pub fn from_path(path: &Path) -> Option<Known> {
        let name = path.file_name()?.to_str()?;
        let stem = name.strip_suffix(SUFFIX)?;
        let (kind, org_id) = match stem.strip_prefix(SIMULATE_PREFIX) {
            Some(org_id) => (Kind::Simulate, org_id),
            None => (Kind::Real, stem),
        };
        is_atlas_id(org_id).then(|| Known {
            path: path.to_owned(),
            org_id: org_id.to_owned(),
            kind,
        })
    }
}

/// The journal of a command that knows the organization (`run`, `reconcile`, or an audit
/// command given `--org`). `legacy` is the old default if it exists in the current directory.
pub fn with_org(
    given: Option<&Path>,
    legacy: Option<&Path>,
    state: Option<&Path>,
    org_id: &str,
    kind: Kind,
) -> Location {
    let in_state = state.map(|dir| dir.join(kind.file_name(org_id)));
    if let Some(path) = given {
        return Location {
            path: path.to_owned(),
            source: Source::Given,
        };
    }
    if let Some(path) = legacy {
        return Location {
            path: path.to_owned(),
            source: Source::Legacy { moved_to: in_state },
        };
    }
    match in_state {
        Some(path) => Location {
            path,
            source: Source::State,
        },
        None => Location {
            path: PathBuf::from(kind.legacy()),
            source: Source::NoStateDir,
        },
    }
}

/// What a command that only reads finds without an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The journal to open.
    At(Location),
    /// Several journals of real runs, one per organization: which one is for the user to say.
    Several(Vec<Known>),
    /// No journal of real runs at all.
    Nothing,
}

/// The journal of an audit command (`status`, `report`, `runs`, `history`, `export`): as
/// [`with_org`] when the organization is known; otherwise the only journal of real runs in
/// the state directory (`known`, its listing), never a `--simulate` one.
pub fn for_audit(
    given: Option<&Path>,
    legacy: Option<&Path>,
    state: Option<&Path>,
    org_id: Option<&str>,
    known: &[Known],
) -> Found {
    if let Some(org_id) = org_id {
        return Found::At(with_org(given, legacy, state, org_id, Kind::Real));
    }
    if given.is_some() || legacy.is_some() || state.is_none() {
        // Without an organization, the old journal's place in the state directory can only
        // be shown with a placeholder for its id.
        return Found::At(with_org(given, legacy, state, ORG_PLACEHOLDER, Kind::Real));
    }
    let real: Vec<Known> = known
        .iter()
        .filter(|k| k.kind == Kind::Real)
        .cloned()
        .collect();
    match real.as_slice() {
        [] => Found::Nothing,
        [only] => Found::At(Location {
            path: only.path.clone(),
            source: Source::OnlyOne,
        }),
        _ => Found::Several(real),
    }
}

/// The one-line note for stderr that goes with a location, if any.
pub fn note(location: &Location) -> Option<String> {
    let path = location.path.display();
    match &location.source {
        Source::Given | Source::State | Source::OnlyOne => None,
        Source::Legacy { moved_to } => {
            let name = location.path.display().to_string();
            Some(match moved_to {
                Some(target) if target.exists() => format!(
                    "note: using the journal {path} in the current directory (the default of \
                     earlier versions); the organization's journal {} exists too and is not \
                     used while this one is here",
                    target.display()
                ),
                Some(target) => format!(
                    "note: using the journal {path} in the current directory (the default of \
                     earlier versions); to use it from anywhere, move it where journals now \
                     live: mkdir -p {} && mv {} {}",
                    shell_word(
                        &target
                            .parent()
                            .unwrap_or(Path::new("."))
                            .display()
                            .to_string()
                    ),
                    shell_word(&name),
                    shell_word(&target.display().to_string())
                ),
                None => format!(
                    "note: using the journal {path} in the current directory (the default of \
                     earlier versions); move it to $XDG_STATE_HOME/atlas-invite/<orgId>.db or \
                     ~/.local/state/atlas-invite/<orgId>.db to use it from anywhere"
                ),
            })
        }
        Source::NoStateDir => Some(format!(
            "note: neither XDG_STATE_HOME nor HOME is an absolute path, so the journal is {path} \
             in the current directory; set one of them, or pass --journal (or \
             ATLAS_INVITE_JOURNAL), to keep one journal per organization wherever you run"
        )),
    }
}

/// `text` as one word for a POSIX shell: as it is when it holds only harmless characters,
/// otherwise in single quotes.
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,=~".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The journals of the state directory, for a message: one line each, indented.
pub fn describe(known: &[Known]) -> String {
    let mut out = String::new();
    for journal in known {
        let what = match journal.kind {
            Kind::Real => "",
            Kind::Simulate => " (--simulate)",
        };
        let _ = write!(
            out,
            "\n  org {}{what}: {}",
            journal.org_id,
            journal.path.display()
        );
    }
    out
}

/// Lists the journals in `state` (none when it does not exist or cannot be read), sorted by
/// path so that messages are stable.
pub fn list(state: Option<&Path>) -> Vec<Known> {
    let Some(entries) = state.and_then(|dir| std::fs::read_dir(dir).ok()) else {
        return Vec::new();
    };
    let mut known: Vec<Known> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|entry| Known::from_path(&entry.path()))
        .collect();
    known.sort_by(|a, b| a.path.cmp(&b.path));
    known
}

/// The old default of `kind`, if it is a file in the current directory.
fn legacy_here(kind: Kind) -> Option<PathBuf> {
    let path = PathBuf::from(kind.legacy());
    path.is_file().then_some(path)
}

/// Creates the state directory readable by its owner only (on Unix), if missing. A directory
/// that exists is left as it is: it is the user's.
fn create_dir(dir: &Path) -> Result<(), Failure> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| {
        Failure::usage(anyhow!(
            "failed to create the journal directory {}: {e}; pass --journal PATH to keep the \
             journal elsewhere",
            dir.display()
        ))
    })
}

/// The journal of `run` in `org_id`, and the state directory to create before it is opened
/// (none for `--dry-run`, which writes nothing, nor when the journal is not in the state
/// directory); the note goes to stderr unless `--quiet`.
pub(super) fn for_run(args: &RunArgs, org_id: &str) -> (PathBuf, Option<PathBuf>) {
    let kind = if args.simulate {
        Kind::Simulate
    } else {
        Kind::Real
    };
    let location = locate(&args.journal, org_id, kind);
    let dir = (location.source == Source::State && !args.dry_run)
        .then(|| location.path.parent().map(Path::to_path_buf))
        .flatten();
    if !args.quiet {
        print_note(&location);
    }
    (location.path, dir)
}

/// Creates the state directory a run's journal goes into: only once the run is about to open
/// it, so that a run refused earlier (a bad setting, refused credentials) leaves nothing.
pub(super) fn create_state_dir(dir: Option<&Path>) -> Result<(), Failure> {
    dir.map_or(Ok(()), create_dir)
}

/// The journal of `reconcile` in `org_id`, which must exist already.
pub(super) fn for_reconcile(args: &JournalArgs, org_id: &str) -> Result<PathBuf, Failure> {
    let location = locate(args, org_id, Kind::Real);
    print_note(&location);
    if !location.path.exists() {
        return Err(missing(&location.path));
    }
    Ok(location.path)
}

fn locate(args: &JournalArgs, org_id: &str, kind: Kind) -> Location {
    let state = state_dir(&Env::from_process());
    with_org(
        args.journal.as_deref(),
        legacy_here(kind).as_deref(),
        state.as_deref(),
        org_id,
        kind,
    )
}

/// The journal of an audit command: see [`for_audit`]. `org` is `--org` or
/// `MONGODB_ATLAS_ORG_ID`; without it, the Atlas CLI profile's organization when its journal
/// exists (only to find the journal: it never filters what is shown). Exit 2 when the journal
/// does not exist, or when several could be meant, naming them.
pub(super) fn for_reading(args: &JournalArgs, org: Option<&str>) -> Result<PathBuf, Failure> {
    let state = state_dir(&Env::from_process());
    let legacy = legacy_here(Kind::Real);
    let needs_org = args.journal.is_none() && legacy.is_none() && state.is_some();
    let org = match org {
        Some(org) => Some(org.to_owned()),
        // The profile's organization is a hint, not a choice the user made for this command:
        // followed only to a journal that exists.
        None if needs_org => profile_org().filter(|org| {
            state
                .as_deref()
                .is_some_and(|dir| dir.join(Kind::Real.file_name(org)).is_file())
        }),
        None => None,
    };
    let known = list(state.as_deref());
    let found = for_audit(
        args.journal.as_deref(),
        legacy.as_deref(),
        state.as_deref(),
        org.as_deref(),
        &known,
    );
    match found {
        Found::At(location) => {
            print_note(&location);
            if location.path.exists() {
                Ok(location.path)
            } else {
                Err(missing_among(&location.path, &known))
            }
        }
        Found::Several(several) => Err(Failure::usage(anyhow!(
            "several journals, one per organization, and no organization given:{}\npass --org \
             ORG_ID (or set MONGODB_ATLAS_ORG_ID), or --journal PATH",
            describe(&several)
        ))),
        Found::Nothing => {
            let dir = state.as_deref().unwrap_or(Path::new("."));
            let mut message = format!(
                "no journal in {}: run `atlas-invite run` first, or pass --journal PATH",
                dir.display()
            );
            if !known.is_empty() {
                message.push_str(&format!(
                    "; only --simulate journals are there, read with --journal PATH:{}",
                    describe(&known)
                ));
            }
            Err(Failure::usage(anyhow!(message)))
        }
    }
}

/// The organization of the Atlas CLI profile (`MONGODB_ATLAS_PROFILE`, else `default`), if
/// there is one: an audit command finds that organization's journal as `run` would. A profile
/// that cannot be read gives none: these commands need nothing else from it, and without an
/// organization they still find the only journal, or ask which.
fn profile_org() -> Option<String> {
    let args = AtlasArgs {
        org: None,
        base_url: None,
        profile: std::env::var(crate::atlas::profile::PROFILE_VAR)
            .ok()
            .filter(|name| !name.trim().is_empty()),
        api: ApiArg::Users,
    };
    let settings = super::settings::resolve(&args).ok()?;
    settings.org_id.map(|org| org.value)
}

fn print_note(location: &Location) {
    if let Some(note) = note(location) {
        eprintln!("{}", safe(&note));
    }
}

fn missing(path: &Path) -> Failure {
    let state = state_dir(&Env::from_process());
    missing_among(path, &list(state.as_deref()))
}

/// No journal at `path`, with the journals that do exist, so that a wrong organization or a
/// journal left elsewhere is plain to see.
fn missing_among(path: &Path, known: &[Known]) -> Failure {
    let mut message = format!(
        "no journal at {}: run `atlas-invite run` first, or pass --journal PATH",
        path.display()
    );
    if !known.is_empty() {
        message.push_str(&format!("; journals that exist:{}", describe(known)));
    }
    Failure::usage(anyhow!(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "5f1e2d3c4b5a697887766554";
    const OTHER: &str = "64b7e2f0c1d2e3f4a5b6c7d8";

    fn env(xdg: Option<&str>, home: Option<&str>) -> Env {
        Env {
            xdg_state_home: xdg.map(OsString::from),
            home: home.map(OsString::from),
        }
    }

    fn known(dir: &str, name: &str) -> Known {
        Known::from_path(&Path::new(dir).join(name)).unwrap()
    }

    #[test]
    fn the_state_directory_follows_xdg_then_home() {
        let table = [
            (
                Some("/x/state"),
                Some("/home/u"),
                Some("/x/state/atlas-invite"),
            ),
            (
                None,
                Some("/home/u"),
                Some("/home/u/.local/state/atlas-invite"),
            ),
            // Empty or relative values are ignored, as the XDG specification says.
            (
                Some(""),
                Some("/home/u"),
                Some("/home/u/.local/state/atlas-invite"),
            ),
            (
                Some("rel"),
                Some("/home/u"),
                Some("/home/u/.local/state/atlas-invite"),
            ),
            (Some("/x/state"), None, Some("/x/state/atlas-invite")),
            (None, Some(""), None),
            (None, Some("relative/home"), None),
            (None, None, None),
        ];
        for (xdg, home, expected) in table {
            assert_eq!(
                state_dir(&env(xdg, home)),
                expected.map(PathBuf::from),
                "XDG_STATE_HOME={xdg:?} HOME={home:?}"
            );
        }
    }

    #[test]
    fn a_journal_is_chosen_in_order_given_legacy_state_fallback() {
        let state = Path::new("/s/atlas-invite");
        let given = Path::new("/tmp/mine.db");
        let legacy = Path::new(LEGACY_JOURNAL);
        let at = |given, legacy, state, kind| with_org(given, legacy, state, ORG, kind);

        let chosen = at(Some(given), Some(legacy), Some(state), Kind::Real);
        assert_eq!(
            (chosen.path.as_path(), chosen.source),
            (given, Source::Given)
        );

        let chosen = at(None, Some(legacy), Some(state), Kind::Real);
        assert_eq!(chosen.path, legacy);
        assert_eq!(
            chosen.source,
            Source::Legacy {
                moved_to: Some(state.join(format!("{ORG}.db")))
            }
        );

        let chosen = at(None, None, Some(state), Kind::Real);
        assert_eq!(chosen.path, state.join(format!("{ORG}.db")));
        assert_eq!(chosen.source, Source::State);

        let chosen = at(None, None, Some(state), Kind::Simulate);
        assert_eq!(chosen.path, state.join(format!("simulate-{ORG}.db")));

        let chosen = at(None, None, None, Kind::Real);
        assert_eq!(chosen.path, Path::new(LEGACY_JOURNAL));
        assert_eq!(chosen.source, Source::NoStateDir);
        let chosen = at(None, None, None, Kind::Simulate);
        assert_eq!(chosen.path, Path::new(LEGACY_SIMULATE_JOURNAL));

        let chosen = at(None, Some(legacy), None, Kind::Real);
        assert_eq!(chosen.source, Source::Legacy { moved_to: None });
    }

    #[test]
    fn journal_names_carry_their_organization() {
        assert_eq!(
            Known::from_path(Path::new(&format!("/s/{ORG}.db"))),
            Some(Known {
                path: PathBuf::from(format!("/s/{ORG}.db")),
                org_id: ORG.into(),
                kind: Kind::Real
            })
        );
        assert_eq!(
            known("/s", &format!("simulate-{ORG}.db")).kind,
            Kind::Simulate
        );
        for stray in [
            "notes.db",
            &format!("{ORG}.db-wal"),
            &format!("{ORG}.sqlite"),
            "5F1E2D3C4B5A697887766554.db",
            "simulate-.db",
        ] {
            assert_eq!(
                Known::from_path(&Path::new("/s").join(stray)),
                None,
                "{stray}"
            );
        }
    }

    #[test]
    fn audit_commands_find_the_only_journal_or_ask_which() {
        let state = Path::new("/s");
        let real = known("/s", &format!("{ORG}.db"));
        let other = known("/s", &format!("{OTHER}.db"));
        let demo = known("/s", &format!("simulate-{OTHER}.db"));
        let audit = |org, known: &[Known]| for_audit(None, None, Some(state), org, known);

        let only = Found::At(Location {
            path: real.path.clone(),
            source: Source::OnlyOne,
        });
        assert_eq!(audit(None, std::slice::from_ref(&real)), only);
        // A demonstration's journal is never picked for the real one.
        assert_eq!(audit(None, &[real.clone(), demo.clone()]), only);
        assert_eq!(audit(None, std::slice::from_ref(&demo)), Found::Nothing);
        assert_eq!(audit(None, &[]), Found::Nothing);
        assert_eq!(
            audit(None, &[real.clone(), other.clone(), demo.clone()]),
            Found::Several(vec![real.clone(), other.clone()])
        );
        // With an organization, its file, whether or not it exists.
        assert_eq!(
            audit(Some(OTHER), std::slice::from_ref(&real)),
            Found::At(Location {
                path: state.join(format!("{OTHER}.db")),
                source: Source::State
            })
        );
        // The old file in the current directory comes first.
        let legacy = Path::new(LEGACY_JOURNAL);
        let Found::At(at) = for_audit(None, Some(legacy), Some(state), None, &[real, other]) else {
            panic!("the old journal is used");
        };
        assert_eq!(at.path, legacy);
        assert_eq!(
            at.source,
            Source::Legacy {
                moved_to: Some(state.join("<orgId>.db"))
            }
        );
        // Without a state directory, the old default, existing or not.
        let Found::At(at) = for_audit(None, None, None, None, &[]) else {
            panic!("the fallback is used");
        };
        assert_eq!(at.source, Source::NoStateDir);
    }

    #[test]
    fn notes_say_what_was_chosen_and_how_to_move_it() {
        let legacy = |moved_to: Option<&str>| Location {
            path: PathBuf::from(LEGACY_JOURNAL),
            source: Source::Legacy {
                moved_to: moved_to.map(PathBuf::from),
            },
        };
        let note_of = |location: &Location| note(location).unwrap();
        let moving = note_of(&legacy(Some("/home/a b/.local/state/atlas-invite/x.db")));
        assert!(
            moving.contains(
                "mkdir -p '/home/a b/.local/state/atlas-invite' && mv atlas-invite.db \
                 '/home/a b/.local/state/atlas-invite/x.db'"
            ),
            "{moving}"
        );
        assert!(!moving.contains('\n'));
        assert!(note_of(&legacy(None)).contains("~/.local/state/atlas-invite/<orgId>.db"));
        let fallback = Location {
            path: PathBuf::from(LEGACY_JOURNAL),
            source: Source::NoStateDir,
        };
        assert!(note_of(&fallback).contains("HOME"));
        for quiet in [Source::Given, Source::State, Source::OnlyOne] {
            let location = Location {
                path: PathBuf::from("/s/x.db"),
                source: quiet,
            };
            assert_eq!(note(&location), None);
        }
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word("/plain/path.db"), "/plain/path.db");
    }
}
