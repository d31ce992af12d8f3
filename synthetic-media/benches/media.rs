//! Throughput of the generators and cost of the reference verifier.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use duxue_media::*;
use rand::SeedableRng;
use std::hint::black_box;

fn generators(c: &mut Criterion) {
    let people: Vec<Identity> = (0..64).map(identity).collect();
    let mut g = c.benchmark_group("generate");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("face_image_256", |b| {
        b.iter(|| {
            i = (i + 1) % people.len();
            black_box(face_image(&people[i], i as u64))
        })
    });
    g.bench_function("capture_image_256x192", |b| {
        b.iter(|| {
            i = (i + 1) % people.len();
            black_box(capture_image(&people[i], i as u64))
        })
    });
    let ch = new_challenge(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
    g.bench_function("liveness_answer", |b| {
        b.iter(|| {
            i = (i + 1) % people.len();
            black_box(liveness_frames(&people[i], &ch, 1))
        })
    });
    for species in Species::ALL {
        g.bench_function(format!("attack_{}", species.as_str()), |b| {
            b.iter(|| {
                i = (i + 1) % people.len();
                black_box(attack_frames(species, &people[i], &ch, 1))
            })
        });
    }
    g.finish();
}

fn verifier(c: &mut Criterion) {
    let who = identity(9);
    let reg = face_template(&face_image(&who, 1)).expect("registration template");
    let ch = new_challenge(&mut rand_chacha::ChaCha8Rng::seed_from_u64(2));
    let frames = liveness_frames(&who, &ch, 3);
    let capture = capture_image(&who, 4);
    let mut g = c.benchmark_group("verify");
    g.bench_function("liveness_login", |b| {
        b.iter(|| black_box(check_liveness(black_box(&frames), &ch, &reg)))
    });
    g.bench_function("capture_comparison", |b| {
        b.iter(|| {
            let t = face_template(black_box(&capture)).expect("capture template");
            black_box(match_score(&reg, &t))
        })
    });
    g.finish();
}

criterion_group!(benches, generators, verifier);
criterion_main!(benches);
