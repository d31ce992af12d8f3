//! The evidence journal: an append-only JSON-lines file with every request and response the
//! harness made, tagged with the requirement it served. Secrets never reach it: passwords and
//! tokens are replaced, images and frames are recorded as their SHA-256 and size. It also
//! keeps the names the harness gave what it created (cohorts, organisations, courses,
//! classes), which say nothing of their purpose on the wire, with the tag they served.
//!
//! Nothing is lost when the process dies: each record is one line handed to the kernel in one
//! `write` before the caller sees its answer (no buffer in the process), so `kill -9` at any
//! moment leaves every completed exchange in the file. At most the line being written at that
//! instant can be cut short; readers drop a last line without its newline.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use duxue_profile::{Exchange, Observer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Keys whose values are secrets.
const SECRET_KEYS: &[&str] = &["password", "token"];
/// Keys whose values are base64 images.
const IMAGE_KEYS: &[&str] = &["image", "face_image", "id_card_image"];

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct TagStats {
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub exchanges: u64,
    /// Calls under this tag whose answer the client could not read (no answer, a 5xx, 408 or
    /// 429, or an answer it could not decode), and the first of them.
    pub unreadable: u64,
    pub first_unreadable: Option<String>,
}

/// The journal file; `None` once closed (a run that ends writes nothing after its report).
struct Sink {
    file: Option<File>,
    /// The first write error, reported by [`Journal::flush`].
    failed: Option<std::io::Error>,
}

/// A thing the harness created on the target: what it is, its name and its id.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Named {
    pub kind: &'static str,
    pub name: String,
    pub id: Option<String>,
}

/// Operations that create something named, with the body field holding the name and the
/// answer field holding the id.
const NAMING: [(&str, &str, &str, &str); 4] = [
    ("createCohort", "cohort", "label", "cohort_id"),
    (
        "createOrganisation",
        "organisation",
        "name",
        "organisation_id",
    ),
    ("proposeCourse", "course", "title", "course_id"),
    ("createClass", "class", "name", "class_id"),
];

pub struct Journal {
    writer: Mutex<Sink>,
    seq: AtomicU64,
    tags: Mutex<BTreeMap<String, TagStats>>,
    names: Mutex<BTreeMap<String, Vec<Named>>>,
    /// Secret strings that must never be written, whatever key they appear under.
    secrets: Vec<String>,
}

impl Journal {
    pub fn create(path: &Path, secrets: Vec<String>) -> std::io::Result<Arc<Journal>> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = File::options().create_new(true).append(true).open(path)?;
        Ok(Arc::new(Journal {
            writer: Mutex::new(Sink {
                file: Some(file),
                failed: None,
            }),
            seq: AtomicU64::new(0),
            tags: Mutex::new(BTreeMap::new()),
            names: Mutex::new(BTreeMap::new()),
            secrets: secrets.into_iter().filter(|s| !s.is_empty()).collect(),
        }))
    }

    /// An observer that records under `tag`.
    pub fn tagged(self: &Arc<Self>, tag: &str) -> Arc<dyn Observer> {
        Arc::new(Tagged {
            journal: self.clone(),
            tag: tag.to_owned(),
        })
    }

    pub fn total(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    pub fn stats(&self, tag: &str) -> TagStats {
        self.tags
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(tag)
            .cloned()
            .unwrap_or_default()
    }

    /// Everything named so far, by tag.
    pub fn names(&self) -> BTreeMap<String, Vec<Named>> {
        self.names.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn note_name(&self, tag: &str, exchange: &Exchange<'_>) {
        let Some((_, kind, name_field, id_field)) =
            NAMING.iter().find(|(op, ..)| *op == exchange.operation)
        else {
            return;
        };
        let field = |bytes: &[u8], key: &str| {
            serde_json::from_slice::<Value>(bytes)
                .ok()
                .and_then(|v| v.get(key).and_then(Value::as_str).map(str::to_owned))
        };
        let Some(name) = exchange
            .request_body
            .and_then(|body| field(body, name_field))
        else {
            return;
        };
        let id = field(exchange.response_body, id_field);
        self.names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(tag.to_owned())
            .or_default()
            .push(Named { kind, name, id });
    }

    /// Reports the first write that failed, if any (every record is written as it comes).
    pub fn flush(&self) -> std::io::Result<()> {
        let mut sink = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        match sink.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Stops recording: exchanges still in flight when a run ends (an interrupted run's
    /// probes) are not written after the report that counts the journal.
    pub fn close(&self) {
        self.writer.lock().unwrap_or_else(|e| e.into_inner()).file = None;
    }

    fn unreadable(&self, tag: &str, error: &duxue_profile::ClientError) {
        let mut tags = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        let stats = tags.entry(tag.to_owned()).or_default();
        stats.unreadable += 1;
        stats
            .first_unreadable
            .get_or_insert_with(|| error.to_string());
    }

    fn record(&self, tag: &str, exchange: &Exchange<'_>) {
        self.note_name(tag, exchange);
        let mut line = json!({
            "probe": tag,
            "op": exchange.operation,
            "method": exchange.method.to_ascii_uppercase(),
            "path": exchange.path,
            "status": exchange.status,
            "started_at": exchange.started_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "virtual_at": exchange
                .virtual_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            "elapsed_ms": (exchange.elapsed.as_secs_f64() * 1e6).round() / 1e3,
            "request": exchange.request_body.map(redact_body),
            "response": redact_body(exchange.response_body),
        });
        if let Some(error) = exchange.transport_error {
            line["error"] = Value::from(error);
        }
        if let Some(content_type) = exchange.content_type
            && !content_type.starts_with("application/json")
        {
            line["content_type"] = Value::from(content_type);
        }
        let mut sink = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let Some(file) = sink.file.as_mut() else {
            return;
        };
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        line["seq"] = Value::from(seq);
        let mut text = line.to_string();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "<redacted>");
            }
        }
        text.push('\n');
        // One write per record, straight to the kernel. A journal write failure must not stop
        // the run; it is reported at the end by flush().
        if let Err(e) = file.write_all(text.as_bytes()) {
            sink.failed.get_or_insert(e);
        }
        drop(sink);
        let mut tags = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        let stats = tags.entry(tag.to_owned()).or_default();
        stats.first_seq.get_or_insert(seq);
        stats.last_seq = Some(seq);
        stats.exchanges += 1;
    }
}

struct Tagged {
    journal: Arc<Journal>,
    tag: String,
}

impl Observer for Tagged {
    fn exchange(&self, exchange: &Exchange<'_>) {
        self.journal.record(&self.tag, exchange);
    }

    fn unreadable(&self, error: &duxue_profile::ClientError) {
        self.journal.unreadable(&self.tag, error);
    }
}

fn digest(bytes: &[u8]) -> Value {
    json!({"sha256": hex::encode(Sha256::digest(bytes)), "bytes": bytes.len()})
}

/// A body as JSON with secrets and images replaced; a non-JSON body by its digest.
pub fn redact_body(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            redact(&mut value);
            value
        }
        Err(_) => digest(body),
    }
}

fn image_digest(text: &str) -> Value {
    match B64.decode(text) {
        Ok(bytes) => digest(&bytes),
        Err(_) => digest(text.as_bytes()),
    }
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if SECRET_KEYS.contains(&key.as_str()) && v.is_string() {
                    *v = Value::from("<redacted>");
                } else if IMAGE_KEYS.contains(&key.as_str()) {
                    if let Some(text) = v.as_str() {
                        *v = image_digest(text);
                    }
                } else if key == "frames" {
                    if let Some(frames) = v.as_array_mut() {
                        for frame in frames.iter_mut() {
                            if let Some(text) = frame.as_str() {
                                *frame = image_digest(text);
                            }
                        }
                    }
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_images_are_replaced() {
        let body = json!({"password": "hunter2", "frames": [B64.encode(b"jpeg")], "nested": {"token": "t0k"}, "face_image": B64.encode(b"face")});
        let out = redact_body(body.to_string().as_bytes());
        let text = out.to_string();
        assert!(!text.contains("hunter2") && !text.contains("t0k"));
        assert_eq!(out["frames"][0]["bytes"], 4);
        assert_eq!(out["face_image"]["bytes"], 4);
    }
}
