//! Latency and error recording for the population phase. Every exchange of a member's client
//! lands here: latency in microseconds from the *intended* send time when the request was
//! paced (a heartbeat), from the actual send time otherwise, in HdrHistograms per operation:
//! one for the whole phase, one for the peak (the hold of the load shape), and one per
//! interval that the ticker writes to an HdrHistogram V2 interval log and then clears.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use duxue_profile::client::{Exchange, Observer};
use duxue_scenarios::learner::Pacer;
use hdrhistogram::Histogram;

/// Highest latency a histogram holds (anything slower is clamped to it): ten minutes.
const HIGHEST_MICROS: u64 = 600_000_000;

pub fn histogram() -> Histogram<u64> {
    // Three significant digits over 1 µs .. 10 min: about 40 KB per histogram.
    Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits is valid"))
    })
}

/// Histograms of one operation.
#[derive(Clone)]
pub struct OperationHistograms {
    pub whole: Histogram<u64>,
    pub peak: Histogram<u64>,
    pub interval: Histogram<u64>,
    pub requests: u64,
    pub errors: u64,
    pub peak_requests: u64,
    pub peak_errors: u64,
}

impl Default for OperationHistograms {
    fn default() -> Self {
        OperationHistograms {
            whole: histogram(),
            peak: histogram(),
            interval: histogram(),
            requests: 0,
            errors: 0,
            peak_requests: 0,
            peak_errors: 0,
        }
    }
}

#[derive(Default)]
struct Book {
    operations: BTreeMap<String, OperationHistograms>,
    error_kinds: BTreeMap<String, u64>,
}

/// Shared by every member's client.
#[derive(Default)]
pub struct Recorder {
    book: Mutex<Book>,
    at_peak: AtomicBool,
    pub interval_requests: AtomicU64,
    pub interval_errors: AtomicU64,
    /// Answers refusing a request (4xx): the controls at work, shown live.
    pub refusals: AtomicU64,
}

impl Recorder {
    pub fn set_peak(&self, at_peak: bool) {
        self.at_peak.store(at_peak, Ordering::Relaxed);
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one answered (or failed) request.
    pub fn record(&self, operation: &'static str, latency: Duration, error: Option<String>) {
        let micros = (latency.as_micros() as u64).clamp(1, HIGHEST_MICROS);
        let peak = self.at_peak.load(Ordering::Relaxed);
        self.interval_requests.fetch_add(1, Ordering::Relaxed);
        if error.is_some() {
            self.interval_errors.fetch_add(1, Ordering::Relaxed);
        }
        let mut book = self.book();
        let op = match book.operations.get_mut(operation) {
            Some(op) => op,
            None => book.operations.entry(operation.to_owned()).or_default(),
        };
        op.requests += 1;
        // Values are clamped into range, so recording cannot fail.
        let _ = op.whole.record(micros);
        let _ = op.interval.record(micros);
        if peak {
            op.peak_requests += 1;
            let _ = op.peak.record(micros);
        }
        if let Some(kind) = error {
            op.errors += 1;
            if peak {
                op.peak_errors += 1;
            }
            *book.error_kinds.entry(kind).or_default() += 1;
        }
    }

    /// Takes every operation's interval histogram (leaving empty ones).
    pub fn take_intervals(&self) -> Vec<(String, Histogram<u64>)> {
        let mut book = self.book();
        book.operations
            .iter_mut()
            .filter(|(_, h)| !h.interval.is_empty())
            .map(|(name, h)| {
                let taken = h.interval.clone();
                h.interval.reset();
                (name.clone(), taken)
            })
            .collect()
    }

    /// A copy of every operation's histograms and the error kinds.
    pub fn snapshot(&self) -> (BTreeMap<String, OperationHistograms>, BTreeMap<String, u64>) {
        let book = self.book();
        (book.operations.clone(), book.error_kinds.clone())
    }

    /// The peak p99 of one operation so far, in ms (for the live line).
    pub fn peak_or_whole_p99_ms(&self, operation: &str) -> Option<f64> {
        let book = self.book();
        let op = book.operations.get(operation)?;
        let h = if op.peak.is_empty() {
            &op.whole
        } else {
            &op.peak
        };
        (!h.is_empty()).then(|| h.value_at_quantile(0.99) as f64 / 1000.0)
    }
}

/// What counts as an error at load: no answer, or a 5xx or 429. Refusals by design (4xx
/// with the profile's error body) are the controls working, not errors.
pub fn error_kind(status: Option<u16>, transport_error: Option<&str>) -> Option<String> {
    match status {
        None => Some(
            if transport_error.is_some_and(|e| e.contains("timed out") || e.contains("timeout")) {
                "timeout".to_owned()
            } else {
                "transport".to_owned()
            },
        ),
        Some(code) if code >= 500 || code == 429 => Some(format!("http_{code}")),
        Some(_) => None,
    }
}

/// One member's view of the recorder: it knows the member's pacer.
pub struct MemberObserver {
    pub recorder: Arc<Recorder>,
    pub pacer: Arc<Pacer>,
}

impl Observer for MemberObserver {
    fn exchange(&self, exchange: &Exchange<'_>) {
        let answered = tokio::time::Instant::now();
        let sent = answered.checked_sub(exchange.elapsed).unwrap_or(answered);
        let intended = self.pacer.take().filter(|at| *at <= sent).unwrap_or(sent);
        if exchange
            .status
            .is_some_and(|s| (400..500).contains(&s) && s != 429)
        {
            self.recorder.refusals.fetch_add(1, Ordering::Relaxed);
        }
        self.recorder.record(
            exchange.operation,
            answered.saturating_duration_since(intended),
            error_kind(exchange.status, exchange.transport_error),
        );
    }
}
