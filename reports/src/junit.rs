//! `junit.xml`: one test case per requirement, for CI systems (via quick-junit).

use std::time::Duration;

use duxue_profile::Verdict;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::model::RunReport;

pub fn render(report: &RunReport) -> Result<String, quick_junit::SerializeError> {
    let mut junit = Report::new("duxue");
    junit.set_timestamp(report.run.started_at);
    junit.set_time(Duration::from_secs_f64(report.run.wall_seconds.max(0.0)));
    let mut suite = TestSuite::new(format!("duxue certify {}", report.run.policy_id));
    suite.set_timestamp(report.run.started_at);
    for r in &report.requirements {
        let mut status = match r.verdict {
            Verdict::Pass | Verdict::Warning => TestCaseStatus::success(),
            Verdict::Skipped => TestCaseStatus::skipped(),
            Verdict::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
            Verdict::Inconclusive => TestCaseStatus::non_success(NonSuccessKind::Error),
        };
        if r.verdict != Verdict::Pass {
            status.set_message(r.reason.clone());
            status.set_type(r.verdict.as_str());
        }
        let mut case = TestCase::new(format!("{} {}", r.id, r.text_en), status);
        case.set_classname(format!("duxue.{}", r.area));
        case.set_time(Duration::from_secs_f64(r.wall_seconds.max(0.0)));
        case.set_assertions(r.checks.len());
        suite.add_test_case(case);
    }
    if let Some(interruption) = &report.interrupted {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(crate::summary::interruption_note(interruption, " / "));
        status.set_type("INTERRUPTED");
        let mut case = TestCase::new("run finished", status);
        case.set_classname("duxue.run");
        suite.add_test_case(case);
    }
    junit.add_test_suite(suite);
    junit.to_string()
}
