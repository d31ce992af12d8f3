//! Reads the population phase's HdrHistogram V2 interval log (values in microseconds, one
//! interval per second, tag = operation) into per-second latency percentiles.

use std::collections::BTreeMap;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

/// Latency percentiles of one second.
#[derive(Clone, Debug, PartialEq)]
pub struct SecondPoint {
    /// Seconds since the first interval of the log.
    pub t_s: f64,
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Per-second percentiles over all operations, and per operation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatencyOverTime {
    pub all: Vec<SecondPoint>,
    pub by_operation: BTreeMap<String, Vec<SecondPoint>>,
    /// Intervals read from the log.
    pub intervals: usize,
}

/// The interval log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HlogError {
    #[error("line {line}: not an interval log entry")]
    Parse { line: usize },
    #[error("interval {index}: bad base64 histogram: {message}")]
    Base64 { index: usize, message: String },
    #[error("interval {index}: bad V2 histogram: {message}")]
    Histogram { index: usize, message: String },
}

/// Reads an interval log's bytes. Intervals may come in any order; each is placed in the
/// whole second its start timestamp falls in, counted from the earliest interval.
pub fn read(bytes: &[u8]) -> Result<LatencyOverTime, HlogError> {
    let mut intervals: Vec<(f64, String, &str)> = Vec::new();
    for (index, entry) in IntervalLogIterator::new(bytes).enumerate() {
        match entry {
            Ok(LogEntry::Interval(h)) => intervals.push((
                h.start_timestamp().as_secs_f64(),
                h.tag().map(|t| t.as_str().to_owned()).unwrap_or_default(),
                h.encoded_histogram(),
            )),
            Ok(LogEntry::StartTime(_) | LogEntry::BaseTime(_)) => {}
            Err(_) => return Err(HlogError::Parse { line: index + 1 }),
        }
    }
    let mut out = LatencyOverTime {
        intervals: intervals.len(),
        ..LatencyOverTime::default()
    };
    let Some(t0) = intervals.iter().map(|i| i.0).reduce(f64::min) else {
        return Ok(out);
    };
    // Group by whole second, then merge and summarise one second at a time so that memory
    // stays bounded by one second's histograms.
    let mut by_second: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, (t, _, _)) in intervals.iter().enumerate() {
        by_second
            .entry(((t - t0).max(0.0)).floor() as u64)
            .or_default()
            .push(i);
    }
    let mut deserializer = Deserializer::new();
    for (second, members) in by_second {
        let mut all = empty()?;
        let mut per_op: BTreeMap<&str, Histogram<u64>> = BTreeMap::new();
        for index in members {
            let (_, tag, encoded) = &intervals[index];
            let raw = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| HlogError::Base64 {
                    index,
                    message: e.to_string(),
                })?;
            let h: Histogram<u64> = deserializer.deserialize(&mut raw.as_slice()).map_err(|e| {
                HlogError::Histogram {
                    index,
                    message: format!("{e:?}"),
                }
            })?;
            let add = |into: &mut Histogram<u64>| {
                into.add(&h).map_err(|e| HlogError::Histogram {
                    index,
                    message: format!("{e:?}"),
                })
            };
            add(&mut all)?;
            let op = match per_op.entry(tag.as_str()) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => e.insert(empty()?),
            };
            add(op)?;
        }
        let t_s = second as f64;
        if let Some(p) = point(t_s, &all) {
            out.all.push(p);
        }
        for (op, h) in per_op {
            if let Some(p) = point(t_s, &h) {
                out.by_operation.entry(op.to_owned()).or_default().push(p);
            }
        }
    }
    Ok(out)
}

/// An empty auto-resizing histogram of three significant figures.
fn empty() -> Result<Histogram<u64>, HlogError> {
    Histogram::new(3).map_err(|e| HlogError::Histogram {
        index: 0,
        message: format!("{e:?}"),
    })
}

fn point(t_s: f64, h: &Histogram<u64>) -> Option<SecondPoint> {
    if h.is_empty() {
        return None;
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Some(SecondPoint {
        t_s,
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.5)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
    })
}
