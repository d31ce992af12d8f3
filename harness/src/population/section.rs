//! The population section of `report.json`: the shape, the mix, the ledger's confusion matrix
//! per behaviour, per-operation percentiles (from the HdrHistograms), the error breakdown, the
//! timeline, supervisor freshness and spoof refusals per species.

use std::collections::BTreeMap;
use std::time::Duration;

use duxue_scenarios::behaviour::Behaviour;
use duxue_scenarios::learner::Presentation;
use duxue_scenarios::population::{Tally, behaviour_name};
use hdrhistogram::Histogram;

use super::recorder::Recorder;
use super::{HISTOGRAM_LOG, PopulationPlan, Tick};

pub use duxue_reports::model::{
    Freshness, LedgerRow, LoadShape as Shape, OperationLatency as OperationRow,
    PopulationReport as PopulationSection, SpoofRow,
};

/// Percentiles of a staleness histogram (wall microseconds).
pub fn freshness(h: &Histogram<u64>, bound_ms: f64) -> Freshness {
    Freshness {
        samples: h.len(),
        bound_ms,
        p50_ms: ms(h.value_at_quantile(0.5)),
        p90_ms: ms(h.value_at_quantile(0.9)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
    }
}

fn ms(micros: u64) -> f64 {
    (micros as f64 / 10.0).round() / 100.0
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Percentiles of one histogram as a table row.
pub fn operation_row(operation: &str, h: &Histogram<u64>, count: u64, errors: u64) -> OperationRow {
    OperationRow {
        operation: operation.to_owned(),
        count,
        errors,
        p50_ms: ms(h.value_at_quantile(0.5)),
        p90_ms: ms(h.value_at_quantile(0.9)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        p999_ms: ms(h.value_at_quantile(0.999)),
        max_ms: ms(h.max()),
    }
}

pub fn build(
    plan: &PopulationPlan,
    recorder: &Recorder,
    tallies: &[Tally],
    timeline: Vec<Tick>,
    supervisor_freshness: Freshness,
    took: Duration,
) -> PopulationSection {
    let (operations, error_kinds) = recorder.snapshot();
    let rows: Vec<OperationRow> = operations
        .iter()
        .map(|(name, h)| operation_row(name, &h.whole, h.requests, h.errors))
        .collect();
    let (ledger, spoofing) = ledger_and_spoofing(tallies);
    PopulationSection {
        learners_peak: plan.learners,
        client_mode: plan.client_mode.into(),
        clock_scale: Some(plan.clock_scale),
        shape: Shape {
            ramp_up_s: plan.shape.ramp_up.as_secs_f64(),
            hold_s: plan.shape.hold.as_secs_f64(),
            ramp_down_s: plan.shape.ramp_down.as_secs_f64(),
        },
        mix: plan.mix.shares(),
        wall_seconds: round1(took.as_secs_f64()),
        requests: operations.values().map(|h| h.requests).sum(),
        errors: operations.values().map(|h| h.errors).sum(),
        ledger,
        operations: rows,
        error_kinds,
        timeline,
        supervisor_freshness,
        spoofing,
        histogram_log: Some(HISTOGRAM_LOG.to_owned()),
    }
}

/// The section of a merged run: operation rows from the added histograms, error kinds and
/// errors summed, the ledger rebuilt from every shard's tallies.
pub fn merged(
    base: &PopulationSection,
    learners: u64,
    operations: &BTreeMap<String, super::recorder::OperationHistograms>,
    tallies: &[Tally],
    timeline: Vec<Tick>,
    sections: &[&PopulationSection],
    freshness: &Histogram<u64>,
) -> PopulationSection {
    let errors_of = |name: &str| -> u64 {
        sections
            .iter()
            .flat_map(|s| s.operations.iter())
            .filter(|o| o.operation == name)
            .map(|o| o.errors)
            .sum()
    };
    let mut error_kinds: BTreeMap<String, u64> = BTreeMap::new();
    for s in sections {
        for (kind, n) in &s.error_kinds {
            *error_kinds.entry(kind.clone()).or_default() += n;
        }
    }
    let (ledger, spoofing) = ledger_and_spoofing(tallies);
    let supervisor_freshness = self::freshness(freshness, base.supervisor_freshness.bound_ms);
    PopulationSection {
        learners_peak: learners,
        client_mode: base.client_mode,
        clock_scale: base.clock_scale,
        shape: base.shape.clone(),
        mix: base.mix.clone(),
        wall_seconds: sections.iter().map(|s| s.wall_seconds).fold(0.0, f64::max),
        requests: sections.iter().map(|s| s.requests).sum(),
        errors: sections.iter().map(|s| s.errors).sum(),
        ledger,
        operations: operations
            .iter()
            .map(|(name, h)| operation_row(name, &h.whole, h.requests, errors_of(name)))
            .collect(),
        error_kinds,
        timeline,
        supervisor_freshness,
        spoofing,
        histogram_log: Some(HISTOGRAM_LOG.to_owned()),
    }
}

/// The confusion matrix per behaviour and the spoof refusals per species, from tallies.
pub fn ledger_and_spoofing(tallies: &[Tally]) -> (Vec<LedgerRow>, Vec<SpoofRow>) {
    let mut ledger: BTreeMap<String, LedgerRow> = BTreeMap::new();
    for t in tallies {
        let row = ledger
            .entry(t.behaviour.clone())
            .or_insert_with(|| LedgerRow {
                behaviour: t.behaviour.clone(),
                cheat: t.behaviour != "honest",
                learners: 0,
                cheat_attempts: 0,
                attempts_refused: 0,
                creditable_seconds: 0.0,
                credited_seconds: 0.0,
                cheating_seconds_credited: 0.0,
                honest_seconds_denied: 0.0,
            });
        row.learners += 1;
        row.cheat_attempts += u64::from(t.cheat_attempts);
        row.attempts_refused += u64::from(t.attempts_refused);
        row.creditable_seconds += t.creditable_seconds;
        row.credited_seconds += t.credited_seconds;
        if row.cheat {
            row.cheating_seconds_credited += t.excess_seconds;
        } else {
            row.honest_seconds_denied += t.denied_seconds;
        }
    }
    let ledger = ledger
        .into_values()
        .map(|mut r| {
            r.creditable_seconds = round1(r.creditable_seconds);
            r.credited_seconds = round1(r.credited_seconds);
            r.cheating_seconds_credited = round1(r.cheating_seconds_credited);
            r.honest_seconds_denied = round1(r.honest_seconds_denied);
            r
        })
        .collect::<Vec<_>>();
    // One row per spoof species, from the behaviours that present one at login.
    let spoofing: Vec<SpoofRow> = Behaviour::ALL
        .into_iter()
        .filter_map(|b| match b.presentation() {
            Presentation::Attack(species) => Some((species, behaviour_name(b))),
            Presentation::Genuine => None,
        })
        .map(|(species, behaviour)| {
            let of: Vec<&Tally> = tallies
                .iter()
                .filter(|t| t.behaviour == behaviour)
                .collect();
            SpoofRow {
                species: species.as_str().to_owned(),
                attempts: of.iter().map(|t| u64::from(t.cheat_attempts)).sum(),
                refused: of.iter().map(|t| u64::from(t.attempts_refused)).sum(),
            }
        })
        .collect();
    (ledger, spoofing)
}
