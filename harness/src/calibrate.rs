//! `duxue calibrate`: certify the reference platform clean, once per conforming variant and once
//! per known defect, in parallel on separate ports and databases. The clean platform and every
//! variant must be CERTIFIED; each defect must FAIL exactly the requirements its entry in the
//! calibration manifest names (a defeat device, which fails nothing under certify and only on a
//! spot check of production, must be CERTIFIED). An expected failure that stops happening is a
//! regression, like an unexpected one. A calibration that left a case or a requirement out (a
//! subset of defects or variants, a sample, `--only`, no population phase) proved less and says
//! PARTIAL.

use std::path::{Path, PathBuf};

use duxue_platform::{Defect, Variant};
use duxue_profile::Verdict;
use futures::StreamExt;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::certify::{CertifyPlan, certify, not_run, prepare_out};
use crate::error::CannotRun;

/// One calibration case: the reference platform as it is, as a conforming variant, or with one
/// defect switched on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    Clean,
    Variant(Variant),
    Defect(Defect),
}

impl Case {
    pub fn name(self) -> &'static str {
        match self {
            Case::Clean => "clean",
            Case::Variant(v) => v.name(),
            Case::Defect(d) => d.name(),
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Case::Clean => "clean",
            Case::Variant(_) => "variant",
            Case::Defect(_) => "defect",
        }
    }

    /// The requirements the case must FAIL; none for a platform that must certify.
    fn expected_failures(self) -> Vec<String> {
        match self {
            Case::Defect(d) => d.breaks().to_vec(),
            Case::Clean | Case::Variant(_) => Vec::new(),
        }
    }

    /// What the case may also fail by chance (the manifest's `may_also_fail`).
    fn may_also_fail(self) -> &'static [String] {
        match self {
            Case::Defect(d) => d.may_also_break(),
            Case::Clean | Case::Variant(_) => &[],
        }
    }

    /// Whether certify must CERTIFY the case: the clean platform, a conforming variant, and a
    /// defeat device (a defect the manifest says fails nothing under certify, only on a spot
    /// check of production, which calibrate cannot run: tests/spot_check.rs proves that part).
    fn must_certify(self) -> bool {
        match self {
            Case::Clean | Case::Variant(_) => true,
            Case::Defect(d) => d.breaks().is_empty(),
        }
    }

    /// What a spot check on production must FAIL instead (a defeat device); empty otherwise.
    fn spot_check_fails(self) -> Vec<String> {
        match self {
            Case::Defect(d) => d.spot_check_fails().to_vec(),
            Case::Clean | Case::Variant(_) => Vec::new(),
        }
    }

    /// Whether the case runs the population phase: the platforms that must certify (a variant
    /// or a defeat device is a whole platform) and the defects the manifest says fail a load
    /// requirement.
    fn loads(self) -> bool {
        self.must_certify()
            || self
                .expected_failures()
                .iter()
                .any(|r| r.starts_with("LD-"))
    }

    fn dir(self, out: &Path) -> PathBuf {
        match self {
            Case::Variant(v) => out.join(format!("variant-{}", v.name())),
            _ => out.join(self.name()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CaseResult {
    /// `clean`, the variant's or the defect's name.
    pub case: String,
    /// `clean`, `variant` or `defect`.
    pub kind: &'static str,
    /// Whether its run had the population phase.
    pub population: bool,
    /// The requirements it must FAIL (a defect); empty for a platform that must certify.
    pub expected: Vec<String>,
    /// Its run's verdict (`CERTIFIED` or `NOT_CERTIFIED`).
    pub verdict: String,
    pub failed: Vec<String>,
    pub inconclusive: Vec<String>,
    /// Requirements the run did not judge at all (`--only`, no population phase).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<String>,
    pub ok: bool,
    /// For a defeat device: what a spot check must fail instead. Calibrate proves only that
    /// certify CERTIFIES it; the spot-check test proves these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spot_check_fails: Vec<String>,
    /// Why the case could not count (its requirements have no probe in this build).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_calibrated: Option<String>,
    pub run: String,
    pub wall_seconds: f64,
    /// Each requirement whose verdict the case did not expect, with why it came out so.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub surprises: Vec<Surprise>,
}

/// A requirement that came out otherwise than its case expected: a defect's requirement that
/// did not FAIL, another that did, or a requirement of a platform that must certify that was
/// neither PASS nor SKIPPED.
#[derive(Debug, Serialize)]
pub struct Surprise {
    pub id: String,
    /// What was expected: `FAIL`, `no FAIL` or `PASS or SKIPPED`.
    pub expected: &'static str,
    pub verdict: Verdict,
    pub reason: String,
    /// `name: detail` of each check that failed or could not decide.
    pub checks_not_passed: Vec<String>,
}

impl std::fmt::Display for Surprise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} where {} was expected: {}",
            self.id, self.verdict, self.expected, self.reason
        )?;
        for check in &self.checks_not_passed {
            write!(f, "; {check}")?;
        }
        Ok(())
    }
}

/// What `case` expects of requirement `r`, when `r` came out otherwise.
fn unexpected(case: Case, r: &duxue_reports::model::RequirementResult) -> Option<&'static str> {
    if case.must_certify() {
        // A requirement the run left out is no surprise here; the calibration says PARTIAL.
        return (!not_run(r) && !matches!(r.verdict, Verdict::Pass | Verdict::Skipped))
            .then_some("PASS or SKIPPED");
    }
    // An expected failure that did not happen is a miss, even when the run left it out.
    let expected = case.expected_failures().contains(&r.id);
    match (expected, r.verdict == Verdict::Fail) {
        (true, false) => Some("FAIL"),
        (false, true) if !case.may_also_fail().contains(&r.id) => Some("no FAIL"),
        _ => None,
    }
}

/// The requirements of `report` that came out otherwise than `case` expects, with their
/// evidence.
fn surprises(report: &duxue_reports::RunReport, case: Case) -> Vec<Surprise> {
    report
        .requirements
        .iter()
        .filter_map(|r| {
            unexpected(case, r).map(|expected| Surprise {
                id: r.id.clone(),
                expected,
                verdict: r.verdict,
                reason: r.reason.clone(),
                checks_not_passed: r
                    .checks
                    .iter()
                    .filter(|c| c.passed != Some(true))
                    .map(|c| format!("{}: {}", c.name, c.detail))
                    .collect(),
            })
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct Calibration {
    pub schema: &'static str,
    /// `CALIBRATED` (every case ran, every requirement was judged, all as expected), `PARTIAL`
    /// (all as expected, but something was left out: see `partial`) or `MISCALIBRATED`.
    pub verdict: &'static str,
    pub seed: u64,
    pub clock_scale: f64,
    /// What this calibration left out, each in one sentence; empty only when CALIBRATED.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partial: Vec<String>,
    /// The seeded sample of defect cases, when one was drawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<Sample>,
    pub cases: Vec<CaseResult>,
}

/// `--sample K --sample-seed S`: K defect cases drawn with seed S.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Sample {
    pub size: usize,
    pub seed: u64,
}

pub struct CalibratePlan {
    pub out: PathBuf,
    pub template: CertifyPlan,
    pub parallel: usize,
    /// Only these defects (empty: every defect).
    pub defects: Vec<Defect>,
    /// Only these variants (empty: every variant).
    pub variants: Vec<Variant>,
    /// Draw this many of the (selected) defect cases.
    pub sample: Option<Sample>,
    /// Run the population phase for this many of the variants only (drawn with its seed).
    pub population_sample: Option<Sample>,
}

impl CalibratePlan {
    /// Whether `case` runs the population phase: the cases that load the platform, less the
    /// variants left out of `--population-sample`'s draw.
    fn with_population(&self, case: Case, drawn: &[Variant]) -> bool {
        if self.template.population.is_none() || !case.loads() {
            return false;
        }
        match case {
            Case::Variant(v) => drawn.contains(&v),
            _ => true,
        }
    }

    /// The variants whose case runs the population phase: every selected one, or
    /// `--population-sample`'s seeded draw of them.
    fn population_variants(&self) -> Vec<Variant> {
        let mut drawn: Vec<Variant> = Variant::ALL
            .iter()
            .copied()
            .filter(|v| self.variants.is_empty() || self.variants.contains(v))
            .collect();
        if let Some(s) = self.population_sample {
            drawn.shuffle(&mut rand::rngs::StdRng::seed_from_u64(s.seed));
            drawn.truncate(s.size);
        }
        drawn
    }

    /// The cases to run, and what the choice leaves out of a whole calibration.
    fn cases(&self) -> Result<(Vec<Case>, Vec<String>), CannotRun> {
        crate::target::manifest()?;
        let mut partial = Vec::new();
        let variants: Vec<Variant> = Variant::ALL
            .iter()
            .copied()
            .filter(|v| self.variants.is_empty() || self.variants.contains(v))
            .collect();
        if variants.len() < Variant::ALL.len() {
            partial.push(format!(
                "{} of {} conforming variants run (--variants)",
                variants.len(),
                Variant::ALL.len()
            ));
        }
        let mut defects: Vec<Defect> = Defect::ALL
            .iter()
            .copied()
            .filter(|d| self.defects.is_empty() || self.defects.contains(d))
            .collect();
        if let Some(sample) = self.sample
            && sample.size < defects.len()
        {
            let mut rng = rand::rngs::StdRng::seed_from_u64(sample.seed);
            defects.shuffle(&mut rng);
            defects.truncate(sample.size);
            defects.sort_by_key(|d| Defect::ALL.iter().position(|a| a == d));
        }
        if defects.len() < Defect::ALL.len() {
            let how = match self.sample {
                Some(s) => format!("--sample {} --sample-seed {}", s.size, s.seed),
                None => "--defects".to_owned(),
            };
            partial.push(format!(
                "{} of {} defect cases run ({how})",
                defects.len(),
                Defect::ALL.len()
            ));
        }
        if self.template.population.is_none() {
            partial.push(
                "no population phase (--learners 0): LD-1 and LD-2 not judged, the load \
                 defects not calibrated"
                    .to_owned(),
            );
        }
        if !self.template.only.is_empty() {
            partial.push(format!(
                "only {} judged (--only)",
                self.template.only.join(",")
            ));
        }
        if let Some(s) = self.population_sample
            && self.template.population.is_some()
            && s.size < variants.len()
        {
            let drawn: Vec<&str> = self
                .population_variants()
                .iter()
                .map(|v| v.name())
                .collect();
            partial.push(format!(
                "the population phase run for {} of {} conforming variants ({}; \
                 --population-sample {} --sample-seed {})",
                drawn.len(),
                variants.len(),
                drawn.join(", "),
                s.size,
                s.seed
            ));
        }
        let cases = std::iter::once(Case::Clean)
            .chain(variants.into_iter().map(Case::Variant))
            .chain(defects.into_iter().map(Case::Defect))
            .collect();
        Ok((cases, partial))
    }
}

pub async fn calibrate(plan: &CalibratePlan) -> Result<Calibration, CannotRun> {
    let (cases, mut partial) = plan.cases()?;
    if plan.out.join("calibration.json").exists() {
        return Err(CannotRun::new(
            format!("{} already holds a calibration", plan.out.display()),
            "choose another --out",
        ));
    }
    for case in &cases {
        prepare_out(&case.dir(&plan.out))?;
    }
    eprintln!(
        "calibrating {} cases, {} at a time",
        cases.len(),
        plan.parallel
    );
    // Cases that load the platform (the clean one, the variants and the load defects) run the
    // population phase, one at a time after the others, so no two peaks share the machine;
    // every other case runs its probes only, several at once.
    let case_run = |case: Case, with_population: bool| {
        let mut run = plan.template.clone();
        run.out = case.dir(&plan.out);
        run.defects = match case {
            Case::Defect(d) => vec![d],
            _ => Vec::new(),
        };
        run.variants = match case {
            Case::Variant(v) => vec![v],
            _ => Vec::new(),
        };
        run.target = None;
        run.progress = false;
        if !with_population {
            run.population = None;
        }
        async move {
            let result = certify(&run).await;
            (case, run.out, result)
        }
    };
    let drawn = plan.population_variants();
    let (loaded, probes_only): (Vec<Case>, Vec<Case>) = cases
        .into_iter()
        .partition(|c| plan.with_population(*c, &drawn));
    let probe_runs = futures::stream::iter(probes_only.into_iter().map(|c| case_run(c, false)))
        .buffer_unordered(plan.parallel.max(1));
    let load_runs =
        futures::stream::iter(loaded.into_iter().map(|c| case_run(c, true))).buffered(1);
    let mut results = Vec::new();
    let mut stream = probe_runs.chain(load_runs);
    while let Some((case, out, result)) = stream.next().await {
        let report = result?;
        results.push(judge(case, &report, &out, &plan.out));
    }
    results.sort_by_key(|c| {
        (
            ["clean", "variant", "defect"]
                .iter()
                .position(|k| *k == c.kind),
            c.case.clone(),
        )
    });
    let all_ok = results.iter().all(|c| c.ok || c.not_calibrated.is_some());
    for case in results.iter().filter(|c| c.not_calibrated.is_some()) {
        partial.push(format!(
            "{} not calibrated: {}",
            case.case,
            case.not_calibrated.as_deref().unwrap_or_default()
        ));
    }
    let calibration = Calibration {
        schema: "duxue.calibration/v2",
        verdict: match (all_ok, partial.is_empty()) {
            (false, _) => "MISCALIBRATED",
            (true, false) => "PARTIAL",
            (true, true) => "CALIBRATED",
        },
        seed: plan.template.seed,
        clock_scale: plan.template.clock_scale,
        partial,
        sample: plan.sample,
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

/// Whether `report` is what `case` expects, printed as one line (and its surprises).
fn judge(case: Case, report: &duxue_reports::RunReport, out: &Path, root: &Path) -> CaseResult {
    let with = |v: Verdict| -> Vec<String> {
        report
            .requirements
            .iter()
            .filter(|r| r.verdict == v && !not_run(r))
            .map(|r| r.id.clone())
            .collect()
    };
    let failed = with(Verdict::Fail);
    let expected = case.expected_failures();
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
    let not_calibrated = (!unjudged.is_empty() && failed.is_empty())
        .then(|| format!("{unjudged:?} were not judged in this run"));
    let surprises = surprises(report, case);
    let ok = surprises.is_empty() && not_calibrated.is_none();
    let spot_check_fails = case.spot_check_fails();
    eprintln!(
        "  {:<30} {:<14} expected {} failed {:?}{}",
        case.name(),
        match (&not_calibrated, ok) {
            (Some(_), _) => "not-calibrated",
            (None, true) => "ok",
            (None, false) => "MISS",
        },
        if expected.is_empty() {
            "CERTIFIED".to_owned()
        } else {
            format!("{expected:?}")
        },
        failed,
        if spot_check_fails.is_empty() {
            String::new()
        } else {
            format!(
                " (a defeat device: a spot check must fail {spot_check_fails:?}, \
                 tests/spot_check.rs)"
            )
        }
    );
    for surprise in &surprises {
        eprintln!("      {surprise}");
    }
    CaseResult {
        case: case.name().to_owned(),
        kind: case.kind(),
        population: report.population.is_some(),
        expected,
        verdict: report.verdict.as_str().to_owned(),
        failed,
        inconclusive: with(Verdict::Inconclusive),
        not_run: report
            .requirements
            .iter()
            .filter(|r| not_run(r))
            .map(|r| r.id.clone())
            .collect(),
        ok,
        spot_check_fails,
        not_calibrated,
        run: out.strip_prefix(root).unwrap_or(out).display().to_string(),
        wall_seconds: report.run.wall_seconds,
        surprises,
    }
}
