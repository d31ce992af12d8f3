//! SQLite storage: the schema and its migrations, the single batching writer
//! ([`writer`]) and a small pool of read connections ([`read`]).
//!
//! Layout: `documents` holds every entity as a JSON document keyed by `(kind, id)` with its
//! cohort, owner (the learner it belongs to, if any) and its cohort-clock time; `trajectory`
//! holds the append-only learning events; `images` holds every image byte for byte. The database
//! runs in WAL mode with `synchronous=NORMAL`.

pub mod read;
pub mod writer;

use std::path::Path;

use rusqlite::Connection;

use crate::error::PlatformError;

/// Schema migrations, applied in order; `PRAGMA user_version` counts the applied ones.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema
    "CREATE TABLE documents (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        cohort_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        at REAL NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    ) WITHOUT ROWID;
    CREATE INDEX documents_owner ON documents (kind, owner);
    CREATE INDEX documents_cohort_at ON documents (cohort_id, at);
    CREATE TABLE trajectory (
        seq INTEGER PRIMARY KEY,
        learner_id TEXT NOT NULL,
        cohort_id TEXT NOT NULL,
        at REAL NOT NULL,
        wall REAL NOT NULL,
        kind TEXT NOT NULL,
        lesson_id TEXT,
        position REAL,
        ref_id TEXT,
        detail TEXT
    );
    CREATE INDEX trajectory_learner ON trajectory (learner_id, seq);
    CREATE INDEX trajectory_cohort_at ON trajectory (cohort_id, at);
    CREATE TABLE images (
        id TEXT PRIMARY KEY,
        learner_id TEXT NOT NULL,
        cohort_id TEXT NOT NULL,
        at REAL NOT NULL,
        mime TEXT NOT NULL,
        bytes BLOB NOT NULL
    );
    CREATE INDEX images_cohort_at ON images (cohort_id, at);",
];

/// Opens (creating if absent) the database, sets WAL mode and applies pending migrations.
pub fn open(path: &Path) -> Result<Connection, PlatformError> {
    let wrap = |source| PlatformError::Database {
        path: path.display().to_string(),
        source,
    };
    let conn = Connection::open(path).map_err(wrap)?;
    configure(&conn).map_err(wrap)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(wrap)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let tx = conn.unchecked_transaction().map_err(wrap)?;
        tx.execute_batch(sql).map_err(wrap)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        tracing::info!(migration = i + 1, "applied database migration");
    }
    Ok(conn)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

/// Every document body of a kind, in insertion-independent but stable order.
pub fn load_kind(conn: &Connection, kind: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt =
        conn.prepare("SELECT id, body FROM documents WHERE kind = ?1 ORDER BY at, id")?;
    let rows = stmt.query_map([kind], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}
