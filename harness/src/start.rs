//! The common start of a run's shards (`certify --start-at TIME`): the agreed instant parsed
//! from the command line, the wait for it, and what a shard records about its start — its own
//! start against the instant, and its clock against the target's `Date` header, the one clock
//! every shard can read.

use std::time::Duration;

use chrono::{DateTime, Utc};
use duxue_reports::model::StartSkew;

/// How far ahead an agreed start may lie: a shard that would wait longer was almost certainly
/// given the wrong time.
const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);
/// Requests to the target's `/meta` while reading its clock: enough to see its `Date` header
/// turn over a second at [`CLOCK_SAMPLE_SPACING`], bounded in count.
const CLOCK_SAMPLES: usize = 30;
const CLOCK_SAMPLE_SPACING: Duration = Duration::from_millis(50);
/// Stop reading the target's clock once the offset is known this closely (seconds, both ways).
const CLOCK_ENOUGH: f64 = 0.05;

/// Parses `--start-at`: an RFC 3339 instant, or `+SECONDS` from `now`. The instant must lie
/// ahead of `now`, at most a day.
pub fn parse_start_at(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    let at = if let Some(seconds) = text.strip_prefix('+') {
        let seconds: u64 = seconds
            .parse()
            .map_err(|_| format!("`{text}` is not +SECONDS (a whole number of seconds)"))?;
        now + chrono::Duration::seconds(seconds.min(MAX_WAIT.as_secs() + 1) as i64)
    } else {
        DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("`{text}` is neither RFC 3339 nor +SECONDS ({e})"))?
            .with_timezone(&Utc)
    };
    let ahead = (at - now).num_milliseconds() as f64 / 1000.0;
    if ahead < 0.0 {
        return Err(format!(
            "{} is {:.1} s in the past",
            at.to_rfc3339(),
            -ahead
        ));
    }
    if ahead > MAX_WAIT.as_secs_f64() {
        return Err(format!(
            "{} is more than {} hours ahead",
            at.to_rfc3339(),
            MAX_WAIT.as_secs() / 3600
        ));
    }
    Ok(at)
}

/// One reading of the target's clock: the local send and receive times (Unix seconds) and the
/// whole second of its `Date` header.
#[derive(Clone, Copy, Debug)]
pub struct ClockSample {
    pub sent: f64,
    pub received: f64,
    pub date: i64,
}

/// The interval (lo, hi) the target's clock minus ours must lie in, given samples: the target
/// answered at some local moment between `sent` and `received`, when its clock read between
/// `date` and `date + 1`. `None` when no samples, or when they contradict one another (the
/// target's clock jumped).
pub fn offset_bounds(samples: &[ClockSample]) -> Option<(f64, f64)> {
    let mut bounds: Option<(f64, f64)> = None;
    for s in samples {
        let lo = s.date as f64 - s.received;
        let hi = s.date as f64 + 1.0 - s.sent;
        bounds = Some(match bounds {
            None => (lo, hi),
            Some((a, b)) => (a.max(lo), b.min(hi)),
        });
    }
    bounds.filter(|(lo, hi)| lo <= hi)
}

/// An instant as Unix seconds with their fraction.
pub fn unix_seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9
}

/// Reads the target's clock from the `Date` headers of `GET /meta`: at most
/// [`CLOCK_SAMPLES`] requests, [`CLOCK_SAMPLE_SPACING`] apart, until the offset is known to
/// [`CLOCK_ENOUGH`]. Returns (offset, uncertainty) in seconds, or `None` when the target sent
/// no readable `Date`.
pub async fn read_target_clock(http: &reqwest::Client, url: &str) -> Option<(f64, f64)> {
    let meta = format!(
        "{}{}/meta",
        url.trim_end_matches('/'),
        duxue_profile::BASE_PATH
    );
    let mut samples = Vec::new();
    for _ in 0..CLOCK_SAMPLES {
        let sent = unix_seconds(Utc::now());
        let response = http.get(&meta).send().await.ok()?;
        let received = unix_seconds(Utc::now());
        let date = response
            .headers()
            .get(reqwest::header::DATE)?
            .to_str()
            .ok()
            .and_then(|d| DateTime::parse_from_rfc2822(d).ok())?;
        samples.push(ClockSample {
            sent,
            received,
            date: date.timestamp(),
        });
        match offset_bounds(&samples) {
            Some((lo, hi)) if (hi - lo) / 2.0 <= CLOCK_ENOUGH => break,
            Some(_) => {}
            None => {
                tracing::warn!("the target's Date headers contradict one another");
                return None;
            }
        }
        tokio::time::sleep(CLOCK_SAMPLE_SPACING).await;
    }
    let (lo, hi) = offset_bounds(&samples)?;
    Some(((lo + hi) / 2.0, (hi - lo) / 2.0))
}

/// Sleeps until `at` by this machine's clock (in steps of at most a second, so a clock that
/// is slewed meanwhile is followed).
pub async fn wait_until(at: DateTime<Utc>) {
    loop {
        let Ok(left) = (at - Utc::now()).to_std() else {
            return;
        };
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
    }
}

/// The start barrier: reads the target's clock, waits for the agreed instant, and says when
/// this shard actually started. A shard that reaches the barrier after the instant starts at
/// once and records how late it was.
pub async fn barrier(at: DateTime<Utc>, http: &reqwest::Client, url: &str) -> StartSkew {
    let clock = read_target_clock(http, url).await;
    if clock.is_none() {
        tracing::warn!("the target sent no readable Date header: this shard's clock is unchecked");
    }
    let late = (Utc::now() - at).num_milliseconds();
    if late > 0 {
        tracing::warn!(
            "the population reached --start-at {} {:.1} s late (the probes ran past it): a merge refuses shards that started apart",
            at.to_rfc3339(),
            late as f64 / 1000.0
        );
    }
    wait_until(at).await;
    let started_at = Utc::now();
    StartSkew {
        started_at,
        skew_s: round3((started_at - at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6),
        clock_offset_s: clock.map(|(offset, _)| round3(offset)),
        clock_offset_uncertainty_s: clock.map(|(_, u)| round3(u)),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("date")
            .with_timezone(&Utc)
    }

    #[test]
    fn start_at_reads_rfc3339_and_seconds_from_now() {
        let now = at("2026-03-01T08:00:00Z");
        assert_eq!(parse_start_at("+90", now), Ok(at("2026-03-01T08:01:30Z")));
        assert_eq!(
            parse_start_at("2026-03-01T16:05:00+08:00", now),
            Ok(at("2026-03-01T08:05:00Z"))
        );
        assert_eq!(parse_start_at("+0", now), Ok(now));
    }

    #[test]
    fn start_at_refuses_garbage_the_past_and_far_ahead() {
        let now = at("2026-03-01T08:00:00Z");
        for bad in ["", "+", "+-5", "+1.5", "soon", "2026-03-01 08:05", "+abc"] {
            assert!(parse_start_at(bad, now).is_err(), "{bad}");
        }
        let past = parse_start_at("2026-03-01T07:59:58Z", now).expect_err("past");
        assert!(past.contains("in the past"), "{past}");
        let far = parse_start_at("+90000", now).expect_err("far");
        assert!(far.contains("hours ahead"), "{far}");
    }

    #[test]
    fn date_headers_pin_the_offset_where_the_second_turns() {
        // The target's clock runs 2.3 s ahead of ours; round trips of 10 ms every 50 ms.
        let offset = 2.3;
        let samples: Vec<ClockSample> = (0..25)
            .map(|i| {
                let sent = 1_000.0 + f64::from(i) * 0.05;
                let received = sent + 0.01;
                let served = sent + 0.005 + offset;
                ClockSample {
                    sent,
                    received,
                    date: served.floor() as i64,
                }
            })
            .collect();
        let (lo, hi) = offset_bounds(&samples).expect("consistent");
        assert!(lo <= offset && offset <= hi, "{lo}..{hi}");
        assert!(hi - lo <= 0.1, "a turn of the second pins it: {lo}..{hi}");
        // One sample alone only says within a second.
        let (lo, hi) = offset_bounds(&samples[..1]).expect("one");
        assert!(hi - lo > 0.9);
    }

    #[test]
    fn contradicting_dates_are_no_reading() {
        let samples = [
            ClockSample {
                sent: 10.0,
                received: 10.01,
                date: 10,
            },
            ClockSample {
                sent: 10.05,
                received: 10.06,
                date: 14,
            },
        ];
        assert_eq!(offset_bounds(&samples), None);
        assert_eq!(offset_bounds(&[]), None);
    }
}
