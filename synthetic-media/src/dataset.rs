//! Labelled sets on disk for `duxue media generate`: opaque file names, labels only in
//! `manifest.json`. A vendor runs its own engine on a set and scores its decisions with
//! `duxue media score` (see `score`).

use crate::attack::{Species, attack_frames, impostor};
use crate::card::id_card_image;
use crate::error::MediaError;
use crate::face::{capture_image, face_image};
use crate::identity::identity;
use crate::liveness::{Challenge, liveness_frames, new_challenge};
use crate::rng;
use std::path::Path;

/// What a labelled set holds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The set's seed.
    pub seed: u64,
    /// Genuine presentations (and attacks of each species) per class.
    pub per_class: usize,
    /// One entry per presentation.
    pub entries: Vec<ManifestEntry>,
}

/// One presentation: a single image or a frame sequence.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ManifestEntry {
    /// The presentation's opaque id: its files are `media/<id>.jpg` or `media/<id>-NN.jpg`.
    pub id: String,
    /// `face` (a registration photo: the genuine one is the person's registered face, an
    /// other-person one claims the person's ID card), `id_card`, `capture` or `liveness`.
    pub kind: String,
    /// `genuine` or `attack`.
    pub label: String,
    /// The attack species, for attacks.
    pub species: Option<Species>,
    /// Seed of the registered person the presentation claims to be.
    pub identity_seed: u64,
    /// Seed of the person actually shown (differs for other-person attacks).
    pub shown_seed: u64,
    /// Name of the registered person.
    pub name: String,
    /// ID number of the registered person.
    pub id_number: String,
    /// The challenge answered, for liveness sequences.
    pub challenge: Option<Challenge>,
    /// File names relative to the set's folder, in frame order.
    pub files: Vec<String>,
}

/// A presentation's `label`: `attack` when it has an attack species, `genuine` otherwise.
pub(crate) fn label_of(species: Option<Species>) -> String {
    if species.is_some() {
        "attack"
    } else {
        "genuine"
    }
    .into()
}

/// Writes `per_class` people with a registration photo, an ID card, another person's
/// registration photo claiming that card, a genuine and an other-person capture, a genuine
/// liveness answer and one answer of each attack species, under opaque file names, plus
/// `manifest.json` with the labels.
pub fn write_labelled_set(dir: &Path, per_class: usize, seed: u64) -> Result<Manifest, MediaError> {
    std::fs::create_dir_all(dir.join("media"))?;
    let mut counter = 0u64;
    let mut save = |frames: Vec<Vec<u8>>| -> Result<(String, Vec<String>), MediaError> {
        counter += 1;
        let stem = format!("{:016x}", rng::mix(rng::mix(seed, 0x5e7), counter));
        let single = frames.len() == 1;
        let mut names = Vec::new();
        for (k, f) in frames.into_iter().enumerate() {
            let name = if single {
                format!("media/{stem}.jpg")
            } else {
                format!("media/{stem}-{k:02}.jpg")
            };
            std::fs::write(dir.join(&name), f)?;
            names.push(name);
        }
        Ok((stem, names))
    };
    let mut entries = Vec::new();
    for i in 0..per_class {
        let who = identity(rng::mix(seed, i as u64));
        let entry = |kind: &str,
                     species: Option<Species>,
                     shown: u64,
                     ch: Option<&Challenge>,
                     (id, files): (String, Vec<String>)| {
            ManifestEntry {
                id,
                kind: kind.into(),
                label: label_of(species),
                species,
                identity_seed: who.seed,
                shown_seed: shown,
                name: who.name.clone(),
                id_number: who.id_number.clone(),
                challenge: ch.cloned(),
                files,
            }
        };
        entries.push(entry(
            "face",
            None,
            who.seed,
            None,
            save(vec![face_image(&who, 1)])?,
        ));
        entries.push(entry(
            "id_card",
            None,
            who.seed,
            None,
            save(vec![id_card_image(&who, 2)])?,
        ));
        let stranger = impostor(&who, 1);
        entries.push(entry(
            "face",
            Some(Species::OtherPerson),
            stranger.seed,
            None,
            save(vec![face_image(&stranger, 1)])?,
        ));
        entries.push(entry(
            "capture",
            None,
            who.seed,
            None,
            save(vec![capture_image(&who, 3)])?,
        ));
        let other = impostor(&who, 3);
        entries.push(entry(
            "capture",
            Some(Species::OtherPerson),
            other.seed,
            None,
            save(vec![capture_image(&other, 3)])?,
        ));
        let ch = new_challenge(&mut rng::rng(who.seed, "set-challenge"));
        entries.push(entry(
            "liveness",
            None,
            who.seed,
            Some(&ch),
            save(liveness_frames(&who, &ch, 4))?,
        ));
        for sp in Species::ALL {
            let shown = if sp == Species::OtherPerson {
                impostor(&who, 4).seed
            } else {
                who.seed
            };
            entries.push(entry(
                "liveness",
                Some(sp),
                shown,
                Some(&ch),
                save(attack_frames(sp, &who, &ch, 4))?,
            ));
        }
    }
    let m = Manifest {
        seed,
        per_class,
        entries,
    };
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec_pretty(&m)?)?;
    Ok(m)
}

/// The files of one person written by [`write_identity`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IdentityFiles {
    /// The seed the person is derived from: the number a spot check needs to answer this
    /// person's liveness checks and captures.
    pub identity_seed: u64,
    pub name: String,
    pub id_number: String,
    pub phone: String,
    /// `face.jpg`: the face photo to register.
    pub face_image: String,
    /// `id-card.jpg`: the front of the ID card to register.
    pub id_card_image: String,
}

/// Writes one person for registration by hand or through a platform's own registration:
/// `face.jpg`, `id-card.jpg` and `identity.json` (seed, name, ID number, phone).
pub fn write_identity(dir: &Path, seed: u64) -> Result<IdentityFiles, MediaError> {
    std::fs::create_dir_all(dir)?;
    let who = identity(seed);
    let files = IdentityFiles {
        identity_seed: seed,
        name: who.name.clone(),
        id_number: who.id_number.clone(),
        phone: who.phone.clone(),
        face_image: "face.jpg".into(),
        id_card_image: "id-card.jpg".into(),
    };
    std::fs::write(
        dir.join(&files.face_image),
        face_image(&who, rng::mix(seed, 1)),
    )?;
    std::fs::write(
        dir.join(&files.id_card_image),
        id_card_image(&who, rng::mix(seed, 2)),
    )?;
    std::fs::write(
        dir.join("identity.json"),
        serde_json::to_vec_pretty(&files)?,
    )?;
    Ok(files)
}
