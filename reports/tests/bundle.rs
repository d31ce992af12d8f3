//! The signed evidence bundle: sealing, verification, tampering, keys and secrets.

mod common;

use std::path::Path;

use duxue_reports::bundle::list_files;
use duxue_reports::{
    Problem, SigningKey, SigningKeySource, VerifyError, find_secrets, generate_key_file,
    read_public_key, read_signing_key, seal_run, verify_run,
};

fn flip_one_byte(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read");
    assert!(!bytes.is_empty(), "{} is empty", path.display());
    // A byte in the middle, never the trailing newline.
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(path, bytes).expect("write");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[test]
fn a_sealed_run_verifies_and_lists_every_file() {
    let run = common::sealed_run();
    let outcome = verify_run(run.path(), None).expect("readable");
    assert!(outcome.is_intact(), "{:?}", outcome.problems);
    assert!(outcome.self_signed && !outcome.key_trusted);
    let files = list_files(run.path()).expect("list");
    for expected in [
        "report.json",
        "report.html",
        "summary.md",
        "junit.xml",
        "evidence/journal.jsonl",
        "load/latency.hlog",
    ] {
        assert!(
            files.iter().any(|f| f == expected),
            "{expected} in {files:?}"
        );
    }
    assert_eq!(outcome.files_checked, files.len());
    let manifest: duxue_reports::Manifest =
        serde_json::from_slice(&std::fs::read(run.path().join("manifest.json")).expect("manifest"))
            .expect("manifest parses");
    assert_eq!(manifest.files.len(), files.len());
    assert!(manifest.self_signed);
    assert_eq!(manifest.public_key.len(), 64);
    let sig = std::fs::read_to_string(run.path().join("manifest.sig")).expect("sig");
    assert_eq!(sig.len(), 129, "128 hex characters and a newline");
}

#[test]
fn one_changed_byte_in_any_file_fails_naming_it() {
    let run = common::sealed_run();
    let mut files = list_files(run.path()).expect("list");
    files.push("manifest.json".into());
    files.push("manifest.sig".into());
    for file in &files {
        let copy = tempfile::tempdir().expect("temp dir");
        copy_dir(run.path(), copy.path());
        flip_one_byte(&copy.path().join(file));
        let outcome = verify_run(copy.path(), None).expect("readable");
        let first = outcome
            .first_problem()
            .unwrap_or_else(|| panic!("a changed byte in {file} went unnoticed"));
        assert!(
            first.to_string().contains(file.as_str()),
            "{file}: the first problem does not name it: {first}"
        );
    }
}

#[test]
fn added_and_missing_files_are_named() {
    let run = common::sealed_run();
    std::fs::write(run.path().join("evidence/extra.txt"), "late").expect("write");
    let outcome = verify_run(run.path(), None).expect("readable");
    assert_eq!(
        outcome.problems,
        vec![Problem::Added {
            path: "evidence/extra.txt".into()
        }]
    );
    std::fs::remove_file(run.path().join("evidence/extra.txt")).expect("rm");
    std::fs::remove_file(run.path().join("summary.md")).expect("rm");
    let outcome = verify_run(run.path(), None).expect("readable");
    let first = outcome.first_problem().expect("a problem");
    assert_eq!(first.path(), "summary.md");
    assert!(first.to_string().contains("missing"), "{first}");
    std::fs::remove_file(run.path().join("manifest.json")).expect("rm");
    let outcome = verify_run(run.path(), None).expect("readable");
    assert_eq!(outcome.problems, vec![Problem::ManifestMissing]);
}

#[test]
fn a_given_key_must_have_signed_the_manifest() {
    let keys = tempfile::tempdir().expect("temp dir");
    let key_file = keys.path().join("bureau.key");
    let public = generate_key_file(&key_file).expect("keygen");
    assert_eq!(
        read_public_key(&keys.path().join("bureau.key.pub")).expect("pub"),
        public
    );
    let run = tempfile::tempdir().expect("temp dir");
    let report = common::report(None);
    common::write_run(run.path(), &report, 0);
    let sealed = seal_run(run.path(), SigningKeySource::File(key_file.clone())).expect("seals");
    assert!(!sealed.self_signed);
    assert_eq!(sealed.public_key, hex::encode(public.as_bytes()));
    let outcome = verify_run(run.path(), Some(&public)).expect("readable");
    assert!(outcome.is_intact() && outcome.key_trusted, "{:?}", outcome);
    // Another key: refused, naming the manifest.
    let other = SigningKey::from_bytes(&[7u8; 32]).verifying_key();
    let outcome = verify_run(run.path(), Some(&other)).expect("readable");
    assert!(
        matches!(outcome.first_problem(), Some(Problem::WrongKey { .. })),
        "{outcome:?}"
    );
    // Re-sealed by someone else with a fresh key: the recorded key verifies, the trusted one
    // does not.
    seal_run(run.path(), SigningKeySource::Ephemeral).expect("re-seals");
    assert!(verify_run(run.path(), None).expect("readable").is_intact());
    assert!(
        !verify_run(run.path(), Some(&public))
            .expect("readable")
            .is_intact()
    );
    // keygen never overwrites.
    assert!(generate_key_file(&key_file).is_err());
}

#[test]
fn key_files_in_hex_and_pkcs8_pem_are_read() {
    use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
    let dir = tempfile::tempdir().expect("temp dir");
    let key = SigningKey::from_bytes(&[42u8; 32]);
    let hex_file = dir.path().join("k.hex");
    std::fs::write(&hex_file, format!("  {}\n", hex::encode(key.to_bytes()))).expect("write");
    assert_eq!(
        read_signing_key(&hex_file).expect("hex").to_bytes(),
        key.to_bytes()
    );
    let pem_file = dir.path().join("k.pem");
    let pem = key.to_pkcs8_pem(Default::default()).expect("pem");
    std::fs::write(&pem_file, pem.as_bytes()).expect("write");
    assert_eq!(
        read_signing_key(&pem_file).expect("pem").to_bytes(),
        key.to_bytes()
    );
    let pub_pem = dir.path().join("p.pem");
    std::fs::write(
        &pub_pem,
        key.verifying_key()
            .to_public_key_pem(Default::default())
            .expect("pub pem"),
    )
    .expect("write");
    assert_eq!(read_public_key(&pub_pem).expect("pub"), key.verifying_key());
    let bad = dir.path().join("bad");
    std::fs::write(&bad, "not a key").expect("write");
    let e = read_signing_key(&bad).expect_err("refused").to_string();
    assert!(e.contains("64 hex characters"), "{e}");
}

#[test]
fn a_signing_key_inside_the_run_is_refused() {
    let run = tempfile::tempdir().expect("temp dir");
    common::write_run(run.path(), &common::report(None), 0);
    let key = run.path().join("evidence/key");
    generate_key_file(&key).expect("keygen");
    let e = seal_run(run.path(), SigningKeySource::File(key)).expect_err("refused");
    assert!(e.to_string().contains("inside the run folder"), "{e}");
}

#[test]
fn a_missing_folder_cannot_be_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-run");
    let e = verify_run(&missing, None).expect_err("cannot read");
    assert!(matches!(e, VerifyError::CannotRead { .. }));
    assert!(e.to_string().contains("no-such-run"), "{e}");
}

#[test]
fn no_secret_appears_in_the_bundle() {
    let run = common::sealed_run();
    let hits = find_secrets(run.path(), &common::SECRETS).expect("readable");
    assert!(
        hits.is_empty(),
        "secrets found (file, index into SECRETS): {hits:?}"
    );
    // The grep itself works: a leaked secret, raw or JSON-escaped, is found.
    std::fs::write(
        run.path().join("evidence/leak.json"),
        serde_json::json!({"password": common::SECRETS[1]}).to_string(),
    )
    .expect("write");
    let hits = find_secrets(run.path(), &common::SECRETS).expect("readable");
    assert_eq!(hits, vec![("evidence/leak.json".to_owned(), 1)]);
}
