//! `duxue calibrate`: certify the reference platform clean and once per known defect, in
//! parallel on separate ports and databases. The clean run must have no FAIL; each defect run
//! must FAIL exactly the requirements its entry in the calibration manifest names. An
//! expected failure that stops happening is a regression, like an unexpected one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use duxue_platform::Defect;
use duxue_profile::Verdict;
use futures::StreamExt;
use serde::Serialize;

use crate::certify::{CertifyPlan, certify, prepare_out};
use crate::error::CannotRun;

#[derive(Debug, Serialize)]
pub struct CaseResult {
    pub defect: String,
    pub expected: Vec<String>,
    pub failed: Vec<String>,
    pub inconclusive: Vec<String>,
    pub ok: bool,
    /// For a defeat device: what a spot check must fail instead. Calibrate proves only that
    /// certify passes it; the spot-check test proves these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spot_check_fails: Vec<String>,
    /// Why the case could not count (its requirements have no probe in this build).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_calibrated: Option<String>,
    pub run: String,
    pub wall_seconds: f64,
    /// Each requirement whose verdict the manifest did not expect, with why it came out so.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub surprises: Vec<Surprise>,
}

/// A requirement that failed where the manifest expected no failure, or did not fail where it
/// expected one.
#[derive(Debug, Serialize)]
pub struct Surprise {
    pub id: String,
    pub expected_fail: bool,
    pub verdict: Verdict,
    pub reason: String,
    /// `name: detail` of each check that failed or could not decide.
    pub checks_not_passed: Vec<String>,
}

impl std::fmt::Display for Surprise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let expected = if self.expected_fail {
            "FAIL"
        } else {
            "no FAIL"
        };
        write!(
            f,
            "{} {} where {expected} was expected: {}",
            self.id, self.verdict, self.reason
        )?;
        for check in &self.checks_not_passed {
            write!(f, "; {check}")?;
        }
        Ok(())
    }
}

/// The requirements of `report` whose failing differs from `expected`, with their evidence.
fn surprises(report: &duxue_reports::RunReport, expected: &[String]) -> Vec<Surprise> {
    report
        .requirements
        .iter()
        .filter(|r| (r.verdict == Verdict::Fail) != expected.contains(&r.id))
        .map(|r| Surprise {
            id: r.id.clone(),
            expected_fail: expected.contains(&r.id),
            verdict: r.verdict,
            reason: r.reason.clone(),
            checks_not_passed: r
                .checks
                .iter()
                .filter(|c| c.passed != Some(true))
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect(),
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct Calibration {
    pub schema: &'static str,
    pub verdict: &'static str,
    pub seed: u64,
    pub clock_scale: f64,
    pub cases: Vec<CaseResult>,
}

/// One calibration case: a defect (`None` for the clean platform), what certify must fail,
/// and what a spot check must fail.
pub type Case = (Option<Defect>, BTreeSet<String>, Vec<String>);

/// The expected failures of every defect, from the calibration manifest (the platform's one
/// list of what each defect breaks).
pub fn expected_failures() -> Result<Vec<Case>, CannotRun> {
    crate::target::manifest()?;
    let mut out = vec![(None, BTreeSet::new(), Vec::new())];
    out.extend(Defect::ALL.iter().map(|d| {
        (
            Some(*d),
            d.breaks().iter().cloned().collect(),
            d.spot_check_fails().to_vec(),
        )
    }));
    Ok(out)
}

pub struct CalibratePlan {
    pub out: PathBuf,
    pub template: CertifyPlan,
    pub parallel: usize,
    pub only: Vec<Defect>,
}

pub async fn calibrate(plan: &CalibratePlan) -> Result<Calibration, CannotRun> {
    let cases: Vec<_> = expected_failures()?
        .into_iter()
        .filter(|(d, _, _)| {
            d.is_none() || plan.only.is_empty() || d.is_some_and(|d| plan.only.contains(&d))
        })
        .collect();
    if plan.out.join("calibration.json").exists() {
        return Err(CannotRun::new(
            format!("{} already holds a calibration", plan.out.display()),
            "choose another --out",
        ));
    }
    for (defect, _, _) in &cases {
        prepare_out(&case_dir(&plan.out, *defect))?;
    }
    eprintln!(
        "calibrating {} cases, {} at a time",
        cases.len(),
        plan.parallel
    );
    // Cases that load the platform (the clean one and the load defects) run the population
    // phase, one at a time after the others, so no two peaks share the machine; every other
    // case runs its probes only, several at once.
    let loads = |d: &Option<Defect>| {
        d.is_none_or(|d| matches!(d, Defect::SlowUnderLoad | Defect::FailOpenUnderLoad))
    };
    let case_run = |(defect, expected, on_road): Case, with_population: bool| {
        let mut run = plan.template.clone();
        run.out = case_dir(&plan.out, defect);
        run.defects = defect.into_iter().collect();
        run.target = None;
        run.progress = false;
        if !with_population {
            run.population = None;
        }
        async move {
            let result = certify(&run).await;
            (defect, expected, on_road, run.out, result)
        }
    };
    let (loaded, probes_only): (Vec<Case>, Vec<Case>) = cases
        .into_iter()
        .partition(|(d, _, _)| loads(d) && plan.template.population.is_some());
    let probe_runs = futures::stream::iter(probes_only.into_iter().map(|c| case_run(c, false)))
        .buffer_unordered(plan.parallel.max(1));
    let load_runs =
        futures::stream::iter(loaded.into_iter().map(|c| case_run(c, true))).buffered(1);
    let mut results = Vec::new();
    let mut stream = probe_runs.chain(load_runs);
    while let Some((defect, expected, on_road, out, result)) = stream.next().await {
        let report = result?;
        let with = |v: Verdict| -> Vec<String> {
            report
                .requirements
                .iter()
                .filter(|r| r.verdict == v)
                .map(|r| r.id.clone())
                .collect()
        };
        let failed = with(Verdict::Fail);
        let expected: Vec<String> = expected.into_iter().collect();
        // A requirement no probe of this build judges cannot be made to fail.
        let unjudged: Vec<&String> = expected
            .iter()
            .filter(|id| {
                report.requirements.iter().any(|r| {
                    &r.id == *id
                        && r.verdict == Verdict::Inconclusive
                        && r.checks.is_empty()
                        && r.evidence.is_empty()
                })
            })
            .collect();
        let not_calibrated = (!unjudged.is_empty() && failed.is_empty()).then(|| {
            format!("{unjudged:?} have no probe in this build (population phase not built)")
        });
        let ok = failed == expected;
        let surprises = if ok {
            Vec::new()
        } else {
            surprises(&report, &expected)
        };
        let name = defect.map_or("clean", |d| d.name()).to_owned();
        eprintln!(
            "  {:<30} {:<14} expected {:?} failed {:?}{}",
            name,
            match (&not_calibrated, ok) {
                (Some(_), _) => "not-calibrated",
                (None, true) => "ok",
                (None, false) => "MISS",
            },
            expected,
            failed,
            if on_road.is_empty() {
                String::new()
            } else {
                format!(
                    " (a defeat device: a spot check must fail {on_road:?}, tests/spot_check.rs)"
                )
            }
        );
        for surprise in &surprises {
            eprintln!("      {surprise}");
        }
        results.push(CaseResult {
            defect: name,
            expected,
            failed,
            inconclusive: with(Verdict::Inconclusive),
            ok,
            spot_check_fails: on_road,
            not_calibrated,
            run: out
                .strip_prefix(&plan.out)
                .unwrap_or(&out)
                .display()
                .to_string(),
            wall_seconds: report.run.wall_seconds,
            surprises,
        });
    }
    results.sort_by(|a, b| (a.defect != "clean", &a.defect).cmp(&(b.defect != "clean", &b.defect)));
    let all_ok = results.iter().all(|c| c.ok || c.not_calibrated.is_some());
    let calibration = Calibration {
        schema: "duxue.calibration/v1",
        verdict: if all_ok {
            "CALIBRATED"
        } else {
            "MISCALIBRATED"
        },
        seed: plan.template.seed,
        clock_scale: plan.template.clock_scale,
        cases: results,
    };
    let json = serde_json::to_vec_pretty(&calibration).map_err(|e| {
        CannotRun::new(
            format!("cannot encode calibration.json: {e}"),
            "report this as a bug",
        )
    })?;
    std::fs::write(plan.out.join("calibration.json"), json).map_err(|e| {
        CannotRun::new(
            format!("cannot write calibration.json: {e}"),
            "check free disk space",
        )
    })?;
    Ok(calibration)
}

fn case_dir(out: &Path, defect: Option<Defect>) -> PathBuf {
    out.join(defect.map_or("clean", |d| d.name()))
}
