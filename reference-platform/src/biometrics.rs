//! Every call into the biometric verifier (`duxue-media`) goes through here. Decisions are made
//! on pixels only: no label, file name or metadata of an image is ever consulted.

use duxue_media::{Action, Challenge, FaceTemplate, MediaError};
use duxue_profile::{ErrorCode, LivenessAction};
use rand::Rng;

use crate::error::Refusal;

/// A registered face, stored as bytes.
pub type TemplateBytes = Vec<u8>;

/// The kind of image, from its magic bytes.
pub fn image_mime(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else {
        None
    }
}

fn refusal(e: MediaError, what: &str) -> Refusal {
    match e {
        MediaError::NoFace(m) => Refusal::new(ErrorCode::NoFace, format!("{what}: {m}")),
        MediaError::TooFewFrames(n) => Refusal::new(
            ErrorCode::LivenessFailed,
            format!("{what}: too few frames ({n})"),
        ),
        other => Refusal::new(ErrorCode::InvalidImage, format!("{what}: {other}")),
    }
}

/// Checks the bytes are a JPEG or PNG before any analysis.
pub fn require_image(bytes: &[u8], what: &str) -> Result<(), Refusal> {
    if image_mime(bytes).is_none() {
        return Err(Refusal::new(
            ErrorCode::InvalidImage,
            format!("{what} is not a JPEG or PNG image"),
        ));
    }
    Ok(())
}

/// Checks the image is at least `min_side` pixels wide and high (read from its header).
pub fn require_size(bytes: &[u8], what: &str, min_side: u32) -> Result<(), Refusal> {
    let (w, h) = duxue_media::image_size(bytes).map_err(|e| refusal(e, what))?;
    if w < min_side || h < min_side {
        return Err(Refusal::new(
            ErrorCode::InvalidImage,
            format!("{what} is {w}x{h} pixels; at least {min_side}x{min_side} are needed"),
        ));
    }
    Ok(())
}

/// The templates of a registration: (face photo, ID-card portrait).
pub fn registration_templates(
    face: &[u8],
    card: &[u8],
) -> Result<(FaceTemplate, FaceTemplate), Refusal> {
    require_image(face, "face_image")?;
    require_image(card, "id_card_image")?;
    let face_t = duxue_media::face_template(face).map_err(|e| refusal(e, "face_image"))?;
    let card_t =
        duxue_media::face_template_from_id_card(card).map_err(|e| refusal(e, "id_card_image"))?;
    Ok((face_t, card_t))
}

/// Whether two faces are the same person, with the score.
pub fn compare(a: &FaceTemplate, b: &FaceTemplate) -> (bool, f64) {
    (
        duxue_media::faces_match(a, b),
        f64::from(duxue_media::match_score(a, b)),
    )
}

pub fn template_to_bytes(t: &FaceTemplate) -> TemplateBytes {
    t.to_bytes()
}

pub fn template_from_bytes(b: &[u8]) -> Result<FaceTemplate, Refusal> {
    FaceTemplate::from_bytes(b).map_err(|e| Refusal::internal(format!("stored face template: {e}")))
}

/// The outcome of judging a capture upload against the registered face.
#[derive(Clone, Debug)]
pub struct CaptureJudgement {
    pub passed: bool,
    pub score: Option<f64>,
    pub reason: String,
}

/// Judges a capture: an undecodable image is a refusal (the upload may be retried); an image
/// without a face, or with another face, is a failed capture.
pub fn judge_capture(image: &[u8], registered: &[u8]) -> Result<CaptureJudgement, Refusal> {
    require_image(image, "image")?;
    let reference = template_from_bytes(registered)?;
    match duxue_media::face_template(image) {
        Ok(t) => {
            let (same, score) = compare(&reference, &t);
            Ok(CaptureJudgement {
                passed: same,
                score: Some(score),
                reason: if same {
                    "face matches".into()
                } else {
                    "another face".into()
                },
            })
        }
        Err(MediaError::NoFace(m)) => Ok(CaptureJudgement {
            passed: false,
            score: None,
            reason: format!("no face: {m}"),
        }),
        Err(e) => Err(refusal(e, "image")),
    }
}

/// A new liveness challenge (nonce and actions) from the platform's random source.
pub fn new_challenge(rng: &mut impl Rng) -> (String, Vec<LivenessAction>) {
    let c = duxue_media::new_challenge(rng);
    let actions = c.actions.iter().filter_map(|a| to_profile(*a)).collect();
    (c.nonce, actions)
}

fn to_profile(a: Action) -> Option<LivenessAction> {
    LivenessAction::from_name(a.name())
}

/// A profile challenge in the media crate's terms (both speak the profile's wire names; an
/// action the verifier does not know is left out, so no answer can satisfy it).
pub fn media_challenge(nonce: &str, actions: &[LivenessAction]) -> Challenge {
    Challenge {
        nonce: nonce.to_owned(),
        actions: actions
            .iter()
            .filter_map(|a| Action::from_name(a.name()))
            .collect(),
    }
}

/// The outcome of a liveness attempt.
#[derive(Clone, Debug)]
pub struct LivenessJudgement {
    pub accepted: bool,
    /// When refused: the code to answer with.
    pub code: Option<ErrorCode>,
    pub reason: String,
}

/// Judges liveness frames against the challenge and the registered face. `weak` (defect
/// `weak-liveness`) accepts whenever the face matches, whatever the actions, nonce or texture.
pub fn judge_liveness(
    frames: &[Vec<u8>],
    nonce: &str,
    actions: &[LivenessAction],
    registered: &[u8],
    weak: bool,
) -> Result<LivenessJudgement, Refusal> {
    if frames.is_empty() {
        return Ok(LivenessJudgement {
            accepted: false,
            code: Some(ErrorCode::LivenessFailed),
            reason: "no frames".into(),
        });
    }
    for (i, f) in frames.iter().enumerate() {
        require_image(f, &format!("frames[{i}]"))?;
    }
    let reference = template_from_bytes(registered)?;
    let challenge = media_challenge(nonce, actions);
    let decision = match duxue_media::check_liveness(frames, &challenge, &reference) {
        Ok(d) => d,
        Err(MediaError::NoFace(m)) => {
            return Ok(LivenessJudgement {
                accepted: false,
                code: Some(ErrorCode::NoFace),
                reason: format!("no face: {m}"),
            });
        }
        Err(MediaError::TooFewFrames(n)) => {
            return Ok(LivenessJudgement {
                accepted: false,
                code: Some(ErrorCode::LivenessFailed),
                reason: format!("too few frames: {n}"),
            });
        }
        Err(e) => return Err(refusal(e, "frames")),
    };
    let live = decision.live || weak;
    let accepted = live && decision.same_person;
    let code = if accepted {
        None
    } else if !live {
        Some(ErrorCode::LivenessFailed)
    } else {
        Some(ErrorCode::FaceMismatch)
    };
    let reason = if weak && accepted && !decision.live {
        format!("accepted on face match only ({})", decision.reason)
    } else {
        decision.reason
    };
    Ok(LivenessJudgement {
        accepted,
        code,
        reason,
    })
}

/// GB 11643-1999: 17 digits, a birth date from 1900-01-01 to `today`, and the ISO 7064
/// MOD 11-2 check character (`X` for ten; the caller upper-cases the number first).
pub fn id_number_valid(s: &str, today: chrono::NaiveDate) -> bool {
    let b = s.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let year: i32 = s[6..10].parse().unwrap_or(0);
    let month: u32 = s[10..12].parse().unwrap_or(0);
    let day: u32 = s[12..14].parse().unwrap_or(0);
    let Some(date) = chrono::NaiveDate::from_ymd_opt(year, month, day) else {
        return false;
    };
    if year < 1900 || date > today {
        return false;
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = b[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let expected = CHECK[(sum % 11) as usize];
    b[17].eq_ignore_ascii_case(&expected)
}

/// The ID number with all but the first 6 and last 4 characters masked.
pub fn mask_id_number(s: &str) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if i < 6 || i + 4 >= s.chars().count() {
                c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers() {
        let today = chrono::Utc::now().date_naive();
        assert!(id_number_valid("11010519491231002X", today));
        assert!(!id_number_valid("110105194912310021", today));
        assert!(!id_number_valid("11010519491331002X", today));
        assert!(!id_number_valid("1101051949123100", today));
        let before_birth = chrono::NaiveDate::from_ymd_opt(1949, 12, 30).expect("a date");
        assert!(!id_number_valid("11010519491231002X", before_birth));
        for seed in 0..50 {
            assert!(id_number_valid(
                &duxue_media::identity(seed).id_number,
                today
            ));
        }
        assert_eq!(mask_id_number("11010519491231002X"), "110105********002X");
    }
}

#[cfg(test)]
mod names {
    use super::*;

    #[test]
    fn profile_and_media_actions_are_the_same_set() {
        for a in LivenessAction::ALL {
            let media = Action::from_name(a.name()).expect("media knows every profile action");
            assert_eq!(to_profile(media), Some(a));
        }
        assert_eq!(Action::ALL.len(), LivenessAction::ALL.len());
        let wire = serde_json::to_value(LivenessAction::ALL).expect("json");
        let names: Vec<&str> = LivenessAction::ALL.iter().map(|a| a.name()).collect();
        assert_eq!(wire, serde_json::json!(names));
    }
}
