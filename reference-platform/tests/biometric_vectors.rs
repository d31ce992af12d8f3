//! The test vectors of the biometric protocol (`profile/vectors/`, `profile/BIOMETRICS.md` §9)
//! against the reference platform's checker: every flash schedule is reproduced and every case
//! gets the decision and refusal code the protocol prescribes, through the same calls the
//! platform makes when it registers a learner, logs one in and judges a capture.

use std::path::{Path, PathBuf};

use duxue_platform::biometrics;
use duxue_profile::{ErrorCode, LivenessAction};
use serde_json::Value;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../profile/vectors")
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(vectors().join("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest.json is JSON")
}

fn file(name: &Value) -> Vec<u8> {
    let name = name.as_str().expect("a file name");
    std::fs::read(vectors().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The registered template of a vector's registration photo, as the platform stores it.
fn registered(case: &Value) -> Vec<u8> {
    let face = file(&case["registered_face"]);
    let (face_t, _) = biometrics::registration_templates(&face, &file(&manifest_card()))
        .expect("the vectors' registration photo registers");
    biometrics::template_to_bytes(&face_t)
}

fn manifest_card() -> Value {
    Value::String("id-card.jpg".into())
}

fn code_name(code: &ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[test]
fn flash_schedules_are_the_protocols() {
    let m = manifest();
    let schedules = m["flash_schedules"].as_array().expect("schedules");
    assert!(schedules.len() >= 3);
    for s in schedules {
        let nonce = s["nonce"].as_str().expect("nonce");
        let colours: Vec<u64> = s["colours"]
            .as_array()
            .expect("colours")
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        assert_eq!(colours.len(), 32);
        for (i, c) in colours.iter().enumerate() {
            assert_eq!(
                u64::from(duxue_media::flash_colour(nonce, i)),
                *c,
                "nonce {nonce:?}, frame {i}"
            );
        }
        assert_eq!(colours[0], 0, "frame 0 has no flash");
        for c in 0..4 {
            assert!(
                colours.contains(&c),
                "nonce {nonce:?} never shows colour {c}"
            );
        }
    }
}

#[test]
fn every_case_gets_the_prescribed_decision() {
    let m = manifest();
    let cases = m["cases"].as_array().expect("cases");
    let mut seen = std::collections::BTreeSet::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let expected = &case["expected"];
        let decision = expected["decision"].as_str().expect("decision");
        let code = expected["code"].as_str();
        seen.insert(case["kind"].as_str().unwrap_or("").to_owned());
        match case["kind"].as_str() {
            Some("registration") => {
                let face = file(&case["face"]);
                let card = file(&case["id_card"]);
                let (face_t, card_t) =
                    biometrics::registration_templates(&face, &card).expect(name);
                let (same, score) = biometrics::compare(&face_t, &card_t);
                assert_eq!(same, decision == "accept", "{name}: match score {score:.3}");
                if !same {
                    assert_eq!(code, Some("face_mismatch"), "{name}");
                }
            }
            Some("liveness") => {
                let frames: Vec<Vec<u8>> = case["frames"]
                    .as_array()
                    .expect("frames")
                    .iter()
                    .map(file)
                    .collect();
                let nonce = case["challenge"]["nonce"].as_str().expect("nonce");
                let actions: Vec<LivenessAction> =
                    serde_json::from_value(case["challenge"]["actions"].clone()).expect("actions");
                let flash: Vec<u64> = case["flash"]
                    .as_array()
                    .expect("flash")
                    .iter()
                    .filter_map(Value::as_u64)
                    .collect();
                assert_eq!(flash.len(), frames.len(), "{name}: one flash per frame");
                for (i, c) in flash.iter().enumerate() {
                    assert_eq!(u64::from(duxue_media::flash_colour(nonce, i)), *c);
                }
                let j =
                    biometrics::judge_liveness(&frames, nonce, &actions, &registered(case), false)
                        .expect(name);
                assert_eq!(j.accepted, decision == "accept", "{name}: {}", j.reason);
                assert_eq!(
                    j.code.as_ref().map(code_name).as_deref(),
                    code,
                    "{name}: {}",
                    j.reason
                );
            }
            Some("capture") => {
                let j = biometrics::judge_capture(&file(&case["image"]), &registered(case))
                    .expect(name);
                assert_eq!(j.passed, decision == "pass", "{name}: {}", j.reason);
            }
            other => panic!("{name}: unknown kind {other:?}"),
        }
    }
    let names: Vec<&str> = cases.iter().filter_map(|c| c["name"].as_str()).collect();
    for species in ["print", "screen", "replay", "other-person"] {
        assert!(
            cases.iter().any(|c| c["species"] == species),
            "a liveness vector of species {species}: {names:?}"
        );
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["capture", "liveness", "registration"]
    );
}

/// The check above can fail: a checker that skips the liveness rules (the `weak-liveness`
/// defect) accepts the replay vector (the right person, recorded for another challenge) that
/// the reference checker refuses.
#[test]
fn the_weak_liveness_defect_accepts_an_attack_vector() {
    let m = manifest();
    let case = m["cases"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["species"] == "replay"))
        .expect("a replay vector");
    let frames: Vec<Vec<u8>> = case["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .map(file)
        .collect();
    let actions: Vec<LivenessAction> =
        serde_json::from_value(case["challenge"]["actions"].clone()).expect("actions");
    let nonce = case["challenge"]["nonce"].as_str().expect("nonce");
    let strict = biometrics::judge_liveness(&frames, nonce, &actions, &registered(case), false)
        .expect("judged");
    assert!(!strict.accepted, "{}", strict.reason);
    let weak = biometrics::judge_liveness(&frames, nonce, &actions, &registered(case), true)
        .expect("judged");
    assert!(
        weak.accepted,
        "the test can fail: the weak checker accepts the replay ({})",
        weak.reason
    );
}
