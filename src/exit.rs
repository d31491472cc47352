//! The documented exit codes, and the one error type every command returns, which carries the
//! code it maps to.

use std::fmt;

/// Every valid row is invited (now or in an earlier run).
pub const SUCCESS: i32 = 0;
/// The run finished, but some rows failed or were invalid.
pub const INCOMPLETE: i32 = 1;
/// Usage, configuration or unreadable input; nothing was sent.
pub const USAGE: i32 = 2;
/// The run was aborted: authentication or authorization failure, interruption.
pub const ABORTED: i32 = 3;

/// A command's failure: what went wrong and the exit code it means.
pub struct Failure {
    pub code: i32,
    pub error: anyhow::Error,
}

impl Failure {
    /// A usage, configuration or input error (exit 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: USAGE,
            error: error.into(),
        }
    }

    /// An abort (exit 3).
    pub fn aborted(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: ABORTED,
            error: error.into(),
        }
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {}: {:#}", self.code, self.error)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}
