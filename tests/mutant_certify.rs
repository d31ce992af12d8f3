//! The test `bench/mutants.sh` gives cargo-mutants: certify the bundled reference platform (a
//! short population phase included) and require CERTIFIED. A mutant of the platform's code is
//! killed when certify says NOT_CERTIFIED, which is the harness catching a defect nobody wrote
//! on purpose. Ignored in the ordinary suite (the clean case of `tests/calibrate.rs` already
//! certifies the unmutated platform); the bench runs it with `--ignored`.

use std::process::Command;

#[test]
#[ignore = "run by bench/mutants.sh on each mutant"]
fn the_reference_platform_certifies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed = std::env::var("DUXUE_MUTANTS_SEED").unwrap_or_else(|_| "20221109".to_owned());
    let output = Command::new(env!("CARGO_BIN_EXE_duxue"))
        .args(["certify", "--seed", &seed, "--learners", "200"])
        .args([
            "--ramp-up",
            "10",
            "--hold",
            "20",
            "--ramp-down",
            "5",
            "--out",
        ])
        .arg(dir.path().join("run"))
        .output()
        .expect("the duxue binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "certify did not certify:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
