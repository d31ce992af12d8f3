//! Read connections: a small pool of SQLite connections used from blocking threads only
//! (`spawn_blocking`), never on the async runtime.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};

use crate::error::Refusal;

/// Keeps at most this many idle read connections.
const MAX_IDLE: usize = 4;

/// A pool of read-only connections to the database file.
#[derive(Clone)]
pub struct ReadPool {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl ReadPool {
    pub fn new(path: PathBuf) -> Self {
        ReadPool {
            path: Arc::new(path),
            idle: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            self.path.as_ref(),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(conn)
    }

    /// Runs `f` on a pooled connection in a blocking thread.
    pub async fn run<R, F>(&self, f: F) -> Result<R, Refusal>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match pool.idle.lock().pop() {
                Some(c) => c,
                None => pool
                    .open()
                    .map_err(|e| Refusal::internal(format!("database: {e}")))?,
            };
            let out = f(&conn).map_err(|e| Refusal::internal(format!("database: {e}")));
            let mut idle = pool.idle.lock();
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(|e| Refusal::internal(format!("read task: {e}")))?
    }
}
