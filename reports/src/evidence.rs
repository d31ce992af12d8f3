//! Reads the evidence journal (`evidence/journal.jsonl`, one JSON object per line) of a run
//! folder without trusting it: counts its records per tag, and finds a last line cut short by
//! the death of the process that wrote it. Used to bring an interrupted run's report up to
//! date; streams the file, so a journal of any length costs one line of memory.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read as _};
use std::path::Path;

use serde::Deserialize;

use crate::RenderError;

/// The longest journal line read; a longer one is not a duxue record.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// What a journal holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalCount {
    /// Whole records.
    pub lines: u64,
    /// A last line without its newline (at most one).
    pub torn_lines: u64,
    /// Records per `probe` tag.
    pub tags: BTreeMap<String, TagCount>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagCount {
    pub first_seq: u64,
    pub last_seq: u64,
    pub exchanges: u64,
}

/// The fields of a record the count needs.
#[derive(Deserialize)]
struct Record {
    probe: String,
    seq: u64,
}

/// Counts the records of a journal. A last line without a newline is torn (an exchange being
/// written when the process died, never one completed); with `drop_torn` it is cut from the
/// file. Any other line that is not a record is an error naming the file and the line.
pub fn count_journal(path: &Path, drop_torn: bool) -> Result<JournalCount, RenderError> {
    let format = |line: u64, message: String| RenderError::Format {
        path: format!("{}:{line}", path.display()),
        message,
    };
    let io = |e: std::io::Error| RenderError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = BufReader::new(file);
    let mut count = JournalCount::default();
    let mut buffer = Vec::new();
    let mut whole_bytes = 0u64;
    loop {
        buffer.clear();
        let read = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buffer)
            .map_err(io)?;
        if read == 0 {
            break;
        }
        let number = count.lines + 1;
        if buffer.last() != Some(&b'\n') {
            if read > MAX_LINE_BYTES {
                return Err(format(
                    number,
                    format!("a line longer than {MAX_LINE_BYTES} bytes"),
                ));
            }
            count.torn_lines = 1;
            break;
        }
        let record: Record = serde_json::from_slice(&buffer)
            .map_err(|e| format(number, format!("not a journal record: {e}")))?;
        whole_bytes += read as u64;
        count.lines += 1;
        let tag = count.tags.entry(record.probe).or_insert(TagCount {
            first_seq: record.seq,
            last_seq: record.seq,
            exchanges: 0,
        });
        tag.first_seq = tag.first_seq.min(record.seq);
        tag.last_seq = tag.last_seq.max(record.seq);
        tag.exchanges += 1;
    }
    drop(reader);
    if count.torn_lines > 0 && drop_torn {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io)?;
        file.set_len(whole_bytes).map_err(io)?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_counted_per_tag_and_a_torn_last_line_is_dropped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("journal.jsonl");
        std::fs::write(
            &path,
            "{\"probe\":\"PB-1\",\"seq\":0}\n{\"probe\":\"ID-1\",\"seq\":1}\n{\"probe\":\"PB-1\",\"seq\":2}\n{\"probe\":\"PB",
        )
        .expect("write");
        let count = count_journal(&path, false).expect("counts");
        assert_eq!(count.lines, 3);
        assert_eq!(count.torn_lines, 1);
        assert_eq!(
            count.tags["PB-1"],
            TagCount {
                first_seq: 0,
                last_seq: 2,
                exchanges: 2
            }
        );
        let again = count_journal(&path, true).expect("counts");
        assert_eq!(again, count);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.ends_with("\"seq\":2}\n"), "{text}");
        assert_eq!(count_journal(&path, true).expect("counts").torn_lines, 0);
    }

    #[test]
    fn a_broken_line_in_the_middle_names_its_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, "{\"probe\":\"PB-1\",\"seq\":0}\nnot json\n").expect("write");
        let error = count_journal(&path, true).expect_err("a broken line");
        let text = error.to_string();
        assert!(text.contains("journal.jsonl:2"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}
