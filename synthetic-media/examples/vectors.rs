//! Writes the biometric test vectors of profile v1 (`profile/vectors/`): one person's
//! registration images, a liveness challenge with its genuine answer and one answer of each
//! attack species, two captures, flash schedules of a few nonces, and `manifest.json` with the
//! decision `profile/BIOMETRICS.md` prescribes for each. Every decision is checked against the
//! reference checker before anything is written.
//!
//! `cargo run -p duxue-media --example vectors -- [--out profile/vectors]`

use std::path::{Path, PathBuf};

use duxue_media::*;
use serde_json::{Value, json};

/// The person of the vectors and the seeds of their pictures (fixed: the files are frozen).
const PERSON: u64 = 0x00B1_0E7A_2022;
const CHALLENGE_NONCE: &str = "9f2c6e1a4b8d3f7005e1c2d3a4b5c6d7";
const CHALLENGE: [Action; 4] = [
    Action::Blink,
    Action::TurnLeft,
    Action::OpenMouth,
    Action::Nod,
];
const SCHEDULE_NONCES: [&str; 3] = ["", "duxue", "0123456789abcdef0123456789abcdef"];

fn main() {
    let mut out = PathBuf::from("profile/vectors");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--out", Some(dir)) => out = PathBuf::from(dir),
            _ => {
                eprintln!("usage: vectors [--out DIR]");
                std::process::exit(2);
            }
        }
    }
    if let Err(e) = write(&out) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    println!("wrote {}", out.join("manifest.json").display());
}

fn save(dir: &Path, name: &str, bytes: &[u8]) -> Result<String, String> {
    std::fs::write(dir.join(name), bytes).map_err(|e| format!("{name}: {e}"))?;
    Ok(name.to_owned())
}

fn save_frames(dir: &Path, stem: &str, frames: &[Vec<u8>]) -> Result<Vec<String>, String> {
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| save(dir, &format!("{stem}-{i:02}.jpg"), f))
        .collect()
}

/// The decision of the reference checker on a liveness answer, as the profile's answer.
fn liveness_expectation(d: &LivenessDecision) -> Value {
    if d.accepted {
        json!({"decision": "accept"})
    } else if !d.live {
        json!({"decision": "refuse", "code": "liveness_failed"})
    } else {
        json!({"decision": "refuse", "code": "face_mismatch"})
    }
}

/// A reading rounded to `1/per` for the manifest.
fn round(x: f32, per: f64) -> f64 {
    (f64::from(x) * per).round() / per
}

fn write(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let who = identity(PERSON);
    let stranger = impostor(&who, 1);
    let face = face_image(&who, 1);
    let card = id_card_image(&who, 2);
    let other_face = face_image(&stranger, 1);
    let registered = face_template(&face).map_err(|e| format!("registered face: {e}"))?;
    let portrait = face_template_from_id_card(&card).map_err(|e| format!("ID card: {e}"))?;
    let other = face_template(&other_face).map_err(|e| format!("other face: {e}"))?;
    if !faces_match(&registered, &portrait) || faces_match(&other, &portrait) {
        return Err("the registration vectors do not decide as documented".into());
    }
    let mut cases = vec![
        json!({
            "name": "registration-genuine",
            "kind": "registration",
            "face": save(dir, "registration-face.jpg", &face)?,
            "id_card": save(dir, "id-card.jpg", &card)?,
            "score": round(match_score(&registered, &portrait), 1000.0),
            "expected": {"decision": "accept"},
        }),
        json!({
            "name": "registration-other-face",
            "kind": "registration",
            "face": save(dir, "registration-other-face.jpg", &other_face)?,
            "id_card": "id-card.jpg",
            "score": round(match_score(&other, &portrait), 1000.0),
            "expected": {"decision": "refuse", "code": "face_mismatch"},
        }),
    ];

    let challenge = Challenge {
        nonce: CHALLENGE_NONCE.into(),
        actions: CHALLENGE.to_vec(),
    };
    // (file stem, the attack species or none for the genuine answer, its frames)
    type Answer = (&'static str, Option<Species>, Vec<Vec<u8>>);
    let answers: Vec<Answer> = std::iter::once((
        "liveness-genuine",
        None,
        liveness_frames(&who, &challenge, 3),
    ))
    .chain(Species::ALL.iter().map(|&sp| {
        let name = match sp {
            Species::Print => "liveness-print",
            Species::Screen => "liveness-screen",
            Species::Replay => "liveness-replay",
            Species::OtherPerson => "liveness-other-person",
        };
        (name, Some(sp), attack_frames(sp, &who, &challenge, 3))
    }))
    .collect();
    for (name, species, frames) in answers {
        let d =
            check_liveness(&frames, &challenge, &registered).map_err(|e| format!("{name}: {e}"))?;
        let expected = liveness_expectation(&d);
        let documented = match species {
            None => "accept",
            Some(_) => "refuse",
        };
        if expected["decision"] != documented {
            return Err(format!("{name}: the reference checker says {}", d.reason));
        }
        cases.push(json!({
            "name": name,
            "kind": "liveness",
            "species": species.map(Species::as_str),
            "registered_face": "registration-face.jpg",
            "challenge": {"nonce": challenge.nonce, "actions": challenge.actions},
            "frames": save_frames(dir, name, &frames)?,
            "flash": (0..frames.len()).map(|i| flash_colour(&challenge.nonce, i)).collect::<Vec<_>>(),
            "reference_reading": {
                "actions_seen": d.actions_seen,
                "flash_matches": d.flash_matches,
                "moire": round(d.moire, 100.0),
                "match_score": round(d.match_score, 1000.0),
                "reason": d.reason,
            },
            "expected": expected,
        }));
    }

    for (name, person, expected) in [
        ("capture-genuine", &who, json!({"decision": "pass"})),
        (
            "capture-other-person",
            &impostor(&who, 3),
            json!({"decision": "fail"}),
        ),
    ] {
        let image = capture_image(person, 4);
        let t = face_template(&image).map_err(|e| format!("{name}: {e}"))?;
        let passed = faces_match(&registered, &t);
        if passed != (expected["decision"] == "pass") {
            return Err(format!("{name}: the reference checker disagrees"));
        }
        cases.push(json!({
            "name": name,
            "kind": "capture",
            "registered_face": "registration-face.jpg",
            "image": save(dir, &format!("{name}.jpg"), &image)?,
            "score": round(match_score(&registered, &t), 1000.0),
            "expected": expected,
        }));
    }

    let schedules: Vec<Value> = SCHEDULE_NONCES
        .iter()
        .chain(std::iter::once(&CHALLENGE_NONCE))
        .map(|nonce| {
            json!({
                "nonce": nonce,
                "colours": (0..32).map(|i| flash_colour(nonce, i)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let manifest = json!({
        "protocol": "duxue biometric protocol v1 (profile/BIOMETRICS.md)",
        "person": {"name": who.name, "id_number": who.id_number, "phone": who.phone},
        "flash_schedules": schedules,
        "cases": cases,
    });
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("manifest.json"), text + "\n").map_err(|e| e.to_string())
}
