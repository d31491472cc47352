//! Opening the journal: file creation with owner-only permissions, per-connection PRAGMAs,
//! embedded migrations and the one-run-at-a-time lock.
//!
//! Migrations are the numbered SQL files of the top-level `migrations/` folder, embedded at build
//! time and applied in order when the journal opens. SQLite's `user_version` holds the number of
//! the last one applied, and `schema_migrations` records when each was applied, for people who
//! inspect the file with `sqlite3`.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use super::JournalError;
use crate::util::now_rfc3339;

/// The embedded migrations, in the order they apply. A test checks that this list matches the
/// `migrations/` folder, so a new file cannot be forgotten here.
pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_initial",
        include_str!("../../migrations/0001_initial.sql"),
    ),
    (
        "0002_already_done_statuses",
        include_str!("../../migrations/0002_already_done_statuses.sql"),
    ),
    (
        "0003_lifecycle_and_views",
        include_str!("../../migrations/0003_lifecycle_and_views.sql"),
    ),
    (
        "0004_grant_sources",
        include_str!("../../migrations/0004_grant_sources.sql"),
    ),
    (
        "0005_status_index",
        include_str!("../../migrations/0005_status_index.sql"),
    ),
    (
        "0006_run_lease",
        include_str!("../../migrations/0006_run_lease.sql"),
    ),
    (
        "0007_changes",
        include_str!("../../migrations/0007_changes.sql"),
    ),
];

/// How long a connection waits for another's write lock before giving up. Reads from `status`
/// or `report` may overlap a run's short write transactions.
const BUSY_TIMEOUT_MS: u32 = 5_000;

/// An open journal: one SQLite connection, migrated to the current schema.
pub struct Journal {
    pub(crate) conn: Connection,
    path: PathBuf,
    /// Held for the whole run so that a second run on the same journal refuses to start.
    lock: Option<File>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

impl Drop for Journal {
    /// A command that wrote leaves the journal whole in its one file: everything in the WAL is
    /// copied into the database and the WAL emptied, so that a copy of the `.db` alone (an
    /// auditor's copy, a CI artifact) holds every result and the run's end.
    fn drop(&mut self) {
        if self.conn.is_readonly(rusqlite::MAIN_DB) == Ok(false) {
            // Best effort: a reader holding a snapshot can delay it past the busy timeout, and
            // the next writer's checkpoint then finishes the job.
            let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
        }
    }
}

impl Journal {
    /// Opens the journal at `path` for writing, creating it (readable by its owner only) when it
    /// does not exist, and applies any migration not applied yet.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        create_private(path)?;
        let conn = Connection::open(path).map_err(|source| JournalError::Open {
            path: path.to_owned(),
            source,
        })?;
        let mut journal = Journal {
            conn,
            path: path.to_owned(),
            lock: None,
        };
        journal.configure()?;
        journal.migrate()?;
        Ok(journal)
    }

    /// Opens an existing journal without writing to it; `Ok(None)` when there is none. Used by
    /// commands that only read (`status`, `--dry-run`), so that they never create a file.
    pub fn open_read_only(path: &Path) -> Result<Option<Journal>, JournalError> {
        if !path.exists() {
            return Ok(None);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(path, flags).map_err(|source| JournalError::Open {
                path: path.to_owned(),
                source,
            })?;
        conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))
            .map_err(|e| self::sql(path, e))?;
        let journal = Journal {
            conn,
            path: path.to_owned(),
            lock: None,
        };
        let version = journal.schema_version()?;
        if version > MIGRATIONS.len() as i64 {
            return Err(JournalError::TooNew {
                path: path.to_owned(),
                version,
                known: MIGRATIONS.len() as i64,
            });
        }
        if version < 1 {
            return Err(JournalError::NotAJournal {
                path: path.to_owned(),
            });
        }
        Ok(Some(journal))
    }

    /// The file this journal lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the exclusive run lock, or fails at once when another process holds it.
    ///
    /// The lock is an advisory `flock` on the journal file itself. SQLite locks with `fcntl`
    /// byte ranges, which do not interact with `flock` on Linux and the BSDs, so the two never
    /// interfere, and the lock vanishes with the process however it dies.
    pub fn lock_for_run(&mut self) -> Result<(), JournalError> {
        let file = File::open(&self.path).map_err(|source| JournalError::Io {
            path: self.path.clone(),
            source,
        })?;
        match file.try_lock() {
            Ok(()) => {
                self.lock = Some(file);
                Ok(())
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(JournalError::Busy {
                path: self.path.clone(),
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(JournalError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Runs a query and collects every row through `map`; any SQLite error becomes a
    /// [`JournalError`] naming this journal.
    pub(crate) fn query_all<T, P: rusqlite::Params>(
        &self,
        sql_text: &str,
        params: P,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(sql_text)
            .map_err(|e| sql(&self.path, e))?;
        let rows = stmt
            .query_map(params, map)
            .map_err(|e| sql(&self.path, e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| sql(&self.path, e))
    }

    /// The number of migrations applied to this journal.
    pub fn schema_version(&self) -> Result<i64, JournalError> {
        self.conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| sql(&self.path, e))
    }

    fn configure(&self) -> Result<(), JournalError> {
        // WAL lets readers (`status`, `sqlite3`) work during a run. With `synchronous=NORMAL`
        // a commit is in the WAL file, and survives the process being killed at any instant,
        // before it returns; only a power cut or an OS crash can lose the last commits (never
        // corrupt the file). The fsync per commit of `FULL` would buy that last case at a
        // measured ~30 % of the client's CPU, and losing an `in_flight` mark to a power cut is
        // recovered anyway: the resend is answered 409 and recorded `already_invited`.
        //
        // Statement journals (one per statement of a multi-statement transaction) live in
        // memory rather than in temporary files.
        //
        // Foreign keys are declared in the schema, for people reading it, but not enforced:
        // the recorder is the only writer and always refers to rows it created, and the checks
        // cost a measured ~17 % of the client's CPU per invite.
        //
        // The busy timeout comes first: switching a new file to WAL takes a lock that another
        // process opening the same new journal at the same instant may hold.
        self.conn
            .busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS.into()))
            .map_err(|e| sql(&self.path, e))?;
        self.conn
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA temp_store = MEMORY;",
            )
            .map_err(|e| busy_or_sql(&self.path, e))
    }

    fn migrate(&mut self) -> Result<(), JournalError> {
        let version = self.schema_version()?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(JournalError::TooNew {
                path: self.path.clone(),
                version,
                known,
            });
        }
        for (index, (name, sql_text)) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let number = index as i64 + 1;
            // Two processes may open the same new (or old) journal at once. `BEGIN IMMEDIATE`
            // takes the write lock before the version is read again, so exactly one applies
            // each migration and the other, having waited for the busy timeout at most, finds
            // it applied and moves on.
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| busy_or_sql(&self.path, e))?;
            let applied: i64 = tx
                .query_row("PRAGMA user_version", [], |row| row.get(0))
                .map_err(|e| sql(&self.path, e))?;
            if applied >= number {
                continue;
            }
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version    INTEGER PRIMARY KEY,
                     name       TEXT NOT NULL,
                     applied_at TEXT NOT NULL
                 );",
            )
            .map_err(|e| sql(&self.path, e))?;
            tx.execute_batch(sql_text)
                .map_err(|source| JournalError::Migration {
                    name: (*name).to_owned(),
                    source: without_sql(source),
                })?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![number, name, now_rfc3339()],
            )
            .map_err(|e| sql(&self.path, e))?;
            tx.pragma_update(None, "user_version", number)
                .map_err(|e| sql(&self.path, e))?;
            tx.commit().map_err(|e| sql(&self.path, e))?;
        }
        Ok(())
    }
}

/// Creates the journal file readable and writable by its owner only, before SQLite opens it:
/// the journal names people and their access rights. An existing file keeps its mode.
fn create_private(path: &Path) -> Result<(), JournalError> {
    if path.exists() {
        return Ok(());
    }
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map(drop)
        .map_err(|source| JournalError::Io {
            path: path.to_owned(),
            source,
        })
}

pub(crate) fn sql(path: &Path, source: rusqlite::Error) -> JournalError {
    JournalError::Sql {
        path: path.to_owned(),
        source: without_sql(source),
    }
}

/// [`sql`], except that a lock still held by another process after the busy timeout is the
/// same "in use" error as the run lock's.
fn busy_or_sql(path: &Path, source: rusqlite::Error) -> JournalError {
    match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => JournalError::Busy {
            path: path.to_owned(),
        },
        _ => sql(path, source),
    }
}

/// The error without the statement text that rusqlite attaches to a syntax or schema error:
/// a whole migration's SQL is no message for people. SQLite's own message stays.
fn without_sql(source: rusqlite::Error) -> rusqlite::Error {
    match source {
        rusqlite::Error::SqlInputError { error, msg, .. } => {
            rusqlite::Error::SqliteFailure(error, Some(msg))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_list_matches_the_migrations_folder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .map(|n| n.trim_end_matches(".sql").to_owned())
            .collect();
        files.sort();
        let embedded: Vec<&str> = MIGRATIONS.iter().map(|(n, _)| *n).collect();
        assert_eq!(files, embedded);
    }

    #[test]
    fn open_applies_every_migration_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.schema_version().unwrap(), MIGRATIONS.len() as i64);
        drop(journal);
        let journal = Journal::open(&path).unwrap();
        let applied: i64 = journal
            .conn
            .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(applied, MIGRATIONS.len() as i64);
        let statuses: i64 = journal
            .conn
            .query_row("SELECT count(*) FROM statuses", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            statuses, 9,
            "seven statuses, then revoked and removed (0007)"
        );
    }

    #[cfg(unix)]
    #[test]
    fn journal_file_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        Journal::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_second_run_lock_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let mut first = Journal::open(&path).unwrap();
        first.lock_for_run().unwrap();
        let mut second = Journal::open(&path).unwrap();
        assert!(matches!(
            second.lock_for_run(),
            Err(JournalError::Busy { .. })
        ));
        drop(first);
        second.lock_for_run().unwrap();
    }

    #[test]
    fn read_only_open_of_a_missing_journal_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.db");
        assert!(Journal::open_read_only(&path).unwrap().is_none());
        assert!(!path.exists());
    }

    #[test]
    fn migration_errors_do_not_carry_the_sql() {
        let conn = Connection::open_in_memory().unwrap();
        let err = conn
            .execute_batch("CREATE TABLE t (a); CREATE TABLE t (a);")
            .unwrap_err();
        let shown = JournalError::Migration {
            name: "0001_initial".into(),
            source: without_sql(err),
        }
        .to_string();
        assert!(shown.contains("table t already exists"), "{shown}");
        assert!(!shown.contains("CREATE"), "{shown}");
    }

    #[test]
    fn journals_opened_at_once_from_many_threads_all_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let opened: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| Journal::open(&path).map(drop)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for result in opened {
            match result {
                Ok(()) | Err(JournalError::Busy { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        let journal = Journal::open(&path).unwrap();
        let applied: i64 = journal
            .conn
            .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(applied, MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_newer_journal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let journal = Journal::open(&path).unwrap();
        journal
            .conn
            .pragma_update(None, "user_version", 99)
            .unwrap();
        drop(journal);
        assert!(matches!(
            Journal::open(&path),
            Err(JournalError::TooNew { version: 99, .. })
        ));
    }
}
