//! Errors that stop the harness before it can judge (exit code 2), each with what to do.

/// Something the user must fix; printed as one line, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{what} — {todo}")]
pub struct CannotRun {
    pub what: String,
    pub todo: String,
}

impl CannotRun {
    pub fn new(what: impl Into<String>, todo: impl Into<String>) -> Self {
        CannotRun {
            what: what.into(),
            todo: todo.into(),
        }
    }
}
