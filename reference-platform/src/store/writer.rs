//! The single database writer: a dedicated thread that drains a channel of write operations and
//! group-commits them: one transaction per [`GROUP_WINDOW`] at most (documents written several
//! times in a batch are encoded and written once, as their last version). A barrier or shutdown
//! commits at once; a barrier is acknowledged once everything sent before it is committed;
//! shutdown commits what is pending and checkpoints the WAL.

use std::collections::HashMap;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use crate::error::PlatformError;

/// One document upsert.
#[derive(Debug)]
pub struct DocWrite {
    pub kind: &'static str,
    pub id: String,
    pub cohort_id: String,
    pub owner: String,
    pub at: f64,
    pub body: String,
}

/// A document encoded by the writer thread (only the last version of a key in a batch is
/// encoded), so that no JSON is written while the world lock is held.
pub trait Record: Send {
    /// `(kind, id)`: the document's key.
    fn record_key(&self) -> (&'static str, &str);
    /// The document as a row; `None` when it cannot be encoded (logged).
    fn encode(&self) -> Option<DocWrite>;
}

/// One trajectory event.
#[derive(Debug, Clone)]
pub struct EventWrite {
    pub learner_id: String,
    pub cohort_id: String,
    pub at: f64,
    pub wall: f64,
    pub kind: &'static str,
    pub lesson_id: Option<String>,
    pub position: Option<f64>,
    pub ref_id: Option<String>,
    pub detail: Option<String>,
}

/// One image.
#[derive(Debug)]
pub struct ImageWrite {
    pub id: String,
    pub learner_id: String,
    pub cohort_id: String,
    pub at: f64,
    pub mime: &'static str,
    pub bytes: Vec<u8>,
}

/// What the purge deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub documents: usize,
    pub events: usize,
    pub images: usize,
}

/// A write operation.
pub enum WriteOp {
    Doc(DocWrite),
    Record(Box<dyn Record>),
    Event(EventWrite),
    Image(ImageWrite),
    /// Delete retention-bound records of a cohort older than `cutoff` (cohort clock).
    Purge {
        cohort_id: String,
        cutoff: f64,
        kinds: &'static [&'static str],
        reply: Option<oneshot::Sender<Purged>>,
    },
    Barrier(oneshot::Sender<()>),
    Shutdown,
}

impl std::fmt::Debug for WriteOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteOp::Doc(d) => f.debug_tuple("Doc").field(d).finish(),
            WriteOp::Record(r) => f.debug_tuple("Record").field(&r.record_key()).finish(),
            WriteOp::Event(e) => f.debug_tuple("Event").field(e).finish(),
            WriteOp::Image(i) => f.debug_tuple("Image").field(&i.id).finish(),
            WriteOp::Purge {
                cohort_id, cutoff, ..
            } => f
                .debug_struct("Purge")
                .field("cohort_id", cohort_id)
                .field("cutoff", cutoff)
                .finish(),
            WriteOp::Barrier(_) => f.write_str("Barrier"),
            WriteOp::Shutdown => f.write_str("Shutdown"),
        }
    }
}

impl WriteOp {
    /// The document key of a document write.
    fn doc_key(&self) -> Option<(&'static str, &str)> {
        match self {
            WriteOp::Doc(d) => Some((d.kind, d.id.as_str())),
            WriteOp::Record(r) => Some(r.record_key()),
            _ => None,
        }
    }

    /// Barriers and shutdown are waited for: they close the batch at once.
    fn urgent(&self) -> bool {
        matches!(self, WriteOp::Barrier(_) | WriteOp::Shutdown)
    }
}

/// Sending side of the writer.
#[derive(Clone, Debug)]
pub struct Writer {
    tx: mpsc::Sender<WriteOp>,
}

impl Writer {
    pub fn send(&self, op: WriteOp) {
        if self.tx.send(op).is_err() {
            tracing::error!("database writer is gone; a write was dropped");
        }
    }

    /// Resolves once every write sent before it is committed.
    pub async fn flush(&self) -> Result<(), PlatformError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(WriteOp::Barrier(tx))
            .map_err(|_| PlatformError::WriterGone("channel closed".into()))?;
        rx.await
            .map_err(|_| PlatformError::WriterGone("barrier dropped".into()))
    }
}

/// Starts the writer thread on its own connection.
pub fn spawn(conn: Connection) -> Result<(Writer, JoinHandle<()>), PlatformError> {
    // The writer touches every hot document about once per group commit: keep them cached,
    // and checkpoint the WAL less often (every 16 MiB of frames instead of 4 MiB).
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    conn.pragma_update(None, "wal_autocheckpoint", 4_000)?;
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("duxue-db-writer".into())
        .spawn(move || run(conn, rx))?;
    Ok((Writer { tx }, handle))
}

const MAX_BATCH: usize = 20_000;
/// Page cache of the writer connection, KiB.
const WRITER_CACHE_KIB: i64 = 64 * 1024;
/// The longest a write waits for its group commit (unless a barrier or shutdown comes first).
/// Acknowledged writes are never lost on a clean shutdown, which commits everything pending.
pub const GROUP_WINDOW: Duration = Duration::from_millis(50);

/// Collects one batch: everything that arrives within [`GROUP_WINDOW`] of the first operation,
/// closed early by a barrier, shutdown or [`MAX_BATCH`]. `None` when the channel is closed.
fn collect(rx: &mpsc::Receiver<WriteOp>) -> Option<Vec<WriteOp>> {
    let first = rx.recv().ok()?;
    let until = Instant::now() + GROUP_WINDOW;
    let mut urgent = first.urgent();
    let mut batch = vec![first];
    while !urgent && batch.len() < MAX_BATCH {
        let op = match rx.try_recv() {
            Ok(op) => op,
            Err(mpsc::TryRecvError::Disconnected) => break,
            Err(mpsc::TryRecvError::Empty) => {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                match rx.recv_timeout(left) {
                    Ok(op) => op,
                    Err(_) => break,
                }
            }
        };
        urgent = op.urgent();
        batch.push(op);
    }
    Some(batch)
}

fn run(mut conn: Connection, rx: mpsc::Receiver<WriteOp>) {
    let mut stop = false;
    while !stop {
        let Some(mut batch) = collect(&rx) else { break };
        stop = batch.iter().any(|op| matches!(op, WriteOp::Shutdown));
        let mut replies = Vec::new();
        let mut purge_replies = Vec::new();
        let mut attempt = 0;
        loop {
            match commit(&mut conn, &mut batch, &mut replies, &mut purge_replies) {
                Ok(()) => break,
                Err(e) if attempt < 3 => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "database commit failed; retrying");
                    std::thread::sleep(std::time::Duration::from_millis(20 * attempt));
                }
                Err(e) => {
                    tracing::error!(error = %e, ops = batch.len(), "database commit failed; batch lost");
                    break;
                }
            }
        }
        for r in replies {
            let _ = r.send(());
        }
        for (r, purged) in purge_replies {
            let _ = r.send(purged);
        }
    }
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "WAL checkpoint at shutdown failed");
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "closing the database failed");
    }
}

fn commit(
    conn: &mut Connection,
    batch: &mut Vec<WriteOp>,
    replies: &mut Vec<oneshot::Sender<()>>,
    purge_replies: &mut Vec<(oneshot::Sender<Purged>, Purged)>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        // Documents written several times in this batch are written once (the last version);
        // a purge in the batch is a point after which no earlier document version may land.
        let mut docs: HashMap<(&'static str, &str), usize> = HashMap::new();
        for (i, op) in batch.iter().enumerate() {
            if let Some(key) = op.doc_key() {
                docs.insert(key, i);
            }
        }
        let last: Vec<bool> = batch
            .iter()
            .enumerate()
            .map(|(i, op)| op.doc_key().is_some_and(|k| docs.get(&k) == Some(&i)))
            .collect();
        drop(docs);
        // A new version of a known document changes its body only: update the body alone so
        // that the secondary indexes are left untouched; insert when the row is new or moved.
        let mut set_body = tx.prepare_cached(
            "UPDATE documents SET body = ?6
             WHERE kind = ?1 AND id = ?2 AND cohort_id = ?3 AND owner = ?4 AND at = ?5",
        )?;
        let mut put_doc = tx.prepare_cached(
            "INSERT INTO documents (kind, id, cohort_id, owner, at, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (kind, id) DO UPDATE SET cohort_id = excluded.cohort_id,
               owner = excluded.owner, at = excluded.at, body = excluded.body",
        )?;
        let mut put_event = tx.prepare_cached(
            "INSERT INTO trajectory (learner_id, cohort_id, at, wall, kind, lesson_id, position, ref_id, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let mut put_image = tx.prepare_cached(
            "INSERT OR IGNORE INTO images (id, learner_id, cohort_id, at, mime, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut write_doc = |d: &DocWrite| -> rusqlite::Result<()> {
            let row = params![d.kind, d.id, d.cohort_id, d.owner, d.at, d.body];
            if set_body.execute(row)? == 0 {
                put_doc.execute(row)?;
            }
            Ok(())
        };
        for (i, op) in batch.iter_mut().enumerate() {
            match op {
                WriteOp::Doc(d) => {
                    if last[i] {
                        write_doc(d)?;
                    }
                }
                WriteOp::Record(r) => {
                    if last[i]
                        && let Some(d) = r.encode()
                    {
                        write_doc(&d)?;
                    }
                }
                WriteOp::Event(e) => {
                    put_event.execute(params![
                        e.learner_id,
                        e.cohort_id,
                        e.at,
                        e.wall,
                        e.kind,
                        e.lesson_id,
                        e.position,
                        e.ref_id,
                        e.detail
                    ])?;
                }
                WriteOp::Image(img) => {
                    put_image.execute(params![
                        img.id,
                        img.learner_id,
                        img.cohort_id,
                        img.at,
                        img.mime,
                        img.bytes
                    ])?;
                }
                WriteOp::Purge {
                    cohort_id,
                    cutoff,
                    kinds,
                    reply,
                } => {
                    let mut purged = Purged::default();
                    for kind in kinds.iter() {
                        purged.documents += tx.execute(
                            "DELETE FROM documents WHERE kind = ?1 AND cohort_id = ?2 AND at < ?3",
                            params![kind, &*cohort_id, *cutoff],
                        )?;
                    }
                    purged.events += tx.execute(
                        "DELETE FROM trajectory WHERE cohort_id = ?1 AND at < ?2",
                        params![&*cohort_id, *cutoff],
                    )?;
                    purged.images += tx.execute(
                        "DELETE FROM images WHERE cohort_id = ?1 AND at < ?2",
                        params![&*cohort_id, *cutoff],
                    )?;
                    if let Some(r) = reply.take() {
                        purge_replies.push((r, purged));
                    }
                }
                WriteOp::Barrier(_) | WriteOp::Shutdown => {}
            }
        }
    }
    tx.commit()?;
    for op in batch.drain(..) {
        if let WriteOp::Barrier(r) = op {
            replies.push(r);
        }
    }
    Ok(())
}
