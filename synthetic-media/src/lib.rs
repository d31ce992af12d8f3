//! Deterministic synthetic media for duxue: people (name, ID number, phone, face), face photos,
//! ID-card fronts, liveness frame sequences answering a challenge, presentation attacks
//! (print, screen, replay, other person), and the reference verifier that judges all of them
//! from pixels alone.
//!
//! Everything a generator makes is a pure function of its seeds: the same seed gives
//! byte-identical JPEG files. The verifier never sees labels, file names or metadata.

// Pixel loops index several buffers in step; plain index loops read best there.
#![allow(clippy::needless_range_loop)]

mod attack;
mod card;
mod dataset;
mod error;
pub mod evaluate;
mod face;
mod font;
pub mod id_number;
mod identity;
mod liveness;
mod raster;
pub mod rates;
mod rng;
pub mod score;
mod verify;

pub use attack::{Species, attack_frames, impostor};
pub use card::id_card_image;
pub use dataset::{IdentityFiles, Manifest, ManifestEntry, write_identity, write_labelled_set};
pub use error::MediaError;
pub use face::{FaceParams, capture_image, face_image};
pub use identity::{Identity, identity};
pub use liveness::{Action, Challenge, flash_colour, liveness_frames, new_challenge};
pub use raster::image_size;
pub use verify::{
    FaceTemplate, LivenessDecision, MATCH_THRESHOLD, check_liveness, face_template,
    face_template_from_id_card, faces_match, match_score,
};

/// Width and height of a registration face photo.
pub const FACE_SIZE: u32 = 256;
/// Width and height of one liveness frame.
pub const FRAME_SIZE: u32 = 160;
