//! Benchmark of the reference platform on loopback with a real SQLite file, driven by the
//! profile client:
//!
//! 1. registers and logs in `--learners` learners (liveness on every login) with
//!    `--login-concurrency` parallel logins, and reports logins with liveness per second;
//! 2. runs one playback per learner and sends heartbeats open-loop: each playback sends one
//!    heartbeat every 10 cohort seconds, so with scale `--scale` the offered rate is
//!    `learners × scale / 10` heartbeats per wall second (1,000 learners at scale 50 = 5,000/s);
//!    answers the popups it gets; reports heartbeats/s and p50/p99/max latency;
//! 3. with `--wrk`, runs `wrk` against `GET /profile/v1/meta` of the same server as the ceiling.
//!
//! Every loop is bounded in count and time; only loopback addresses are used.
//!
//! `cargo run --release -p duxue-platform --example bench -- --learners 1000 --scale 50 --seconds 20 --wrk`

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use duxue_platform::{PlatformConfig, start};
use duxue_profile::*;

struct Args {
    learners: usize,
    scale: f64,
    seconds: f64,
    login_concurrency: usize,
    wrk: bool,
}

fn args() -> Args {
    let mut a = Args {
        learners: 1000,
        scale: 50.0,
        seconds: 20.0,
        login_concurrency: 8,
        wrk: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match flag.as_str() {
            "--learners" => a.learners = value().parse().unwrap_or(a.learners),
            "--scale" => a.scale = value().parse().unwrap_or(a.scale),
            "--seconds" => a.seconds = value().parse().unwrap_or(a.seconds),
            "--login-concurrency" => {
                a.login_concurrency = value().parse().unwrap_or(a.login_concurrency)
            }
            "--wrk" => a.wrk = true,
            other => eprintln!("ignoring unknown argument {other}"),
        }
    }
    a.learners = a.learners.clamp(1, 5000);
    a.seconds = a.seconds.clamp(1.0, 300.0);
    a
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn media_challenge(ch: &LivenessChallenge) -> duxue_media::Challenge {
    duxue_platform::biometrics::media_challenge(&ch.nonce, &ch.actions)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args();
    let dir = tempfile::tempdir()?;
    let token = "bench-token";
    let config = PlatformConfig {
        database: dir.path().join("bench.sqlite"),
        policy: Policy::builtin("xuchang-2022").ok_or("no policy")??,
        application: ApplicationForm::reference()?,
        conformance_token: Some(token.into()),
        defects: vec![],
        seed: Some(1),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let platform = start(config, listener).await?;
    let base = platform.base_url();
    let mut cc = ClientConfig::new(&base);
    cc.conformance_token = Some(token.into());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(30))
        .build()?;
    let c = ProfileClient::with_http(http, cc);

    // -- setup: cohort, enterprise, course, class --------------------------------------------
    let cohort = c
        .create_cohort(&CohortRequest {
            label: "bench".into(),
            clock_scale: a.scale,
            start_at: None,
        })
        .await?;
    let ent = c
        .create_organisation(&OrganisationRequest {
            cohort_id: cohort.cohort_id.clone(),
            name: "企业".into(),
            kind: OrganisationKind::Enterprise,
        })
        .await?;
    let course = c
        .list_courses()
        .await?
        .courses
        .into_iter()
        .find(|co| co.delivery == Delivery::PureOnline)
        .ok_or("no pure-online course")?;
    let class = c
        .create_class(&ClassRequest {
            course_id: course.course_id.clone(),
            organiser_id: ent.organisation_id.clone(),
            name: "bench".into(),
        })
        .await?;

    // -- registrations and logins with liveness --------------------------------------------------
    println!("registering {} learners…", a.learners);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let login_latencies = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let sessions = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    let mut login_time = Duration::ZERO;
    for _ in 0..a.login_concurrency {
        let (c, next, lat, sessions) = (
            c.clone(),
            next.clone(),
            login_latencies.clone(),
            sessions.clone(),
        );
        let (org, class_id, lesson) = (
            ent.organisation_id.clone(),
            class.class_id.clone(),
            course.lessons[0].lesson_id.clone(),
        );
        let n = a.learners;
        tasks.push(tokio::spawn(async move {
            let mut spent = Duration::ZERO;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let who = duxue_media::identity(10_000 + i as u64);
                let reg = RegistrationRequest {
                    name: who.name.clone(),
                    id_number: who.id_number.clone(),
                    phone: who.phone.clone(),
                    password: "bench-pass".into(),
                    organisation_id: org.clone(),
                    id_card_image: b64(&duxue_media::id_card_image(&who, 1)),
                    face_image: b64(&duxue_media::face_image(&who, 2)),
                };
                if c.register_learner(&reg).await.is_err() {
                    continue; // the synthetic matcher's rare false non-match
                }
                let t = Instant::now();
                let Ok(ch) = c.request_challenge(&who.id_number).await else {
                    continue;
                };
                let frames = duxue_media::liveness_frames(&who, &media_challenge(&ch), 3);
                let frames: Vec<String> = frames.iter().map(|f| b64(f)).collect();
                let sent = Instant::now();
                let login = c
                    .login(&LoginRequest {
                        id_number: who.id_number.clone(),
                        password: "bench-pass".into(),
                        challenge_id: ch.challenge_id,
                        frames,
                    })
                    .await;
                lat.lock().push(sent.elapsed());
                spent += t.elapsed();
                let Ok(s) = login else { continue };
                let Ok(e) = c.enrol(&s.token, &class_id).await else {
                    continue;
                };
                sessions
                    .lock()
                    .push((s.token, e.enrolment_id, lesson.clone(), who.clone()));
            }
            spent
        }));
    }
    for t in tasks {
        login_time = login_time.max(t.await.unwrap_or_default());
    }
    let setup = started.elapsed();
    let mut lat = login_latencies.lock().clone();
    lat.sort();
    let sessions = sessions.lock().clone();
    println!(
        "logins with liveness: {} in {:.1} s of login work over {} parallel clients (setup incl. registration {:.1} s)",
        lat.len(),
        login_time.as_secs_f64(),
        a.login_concurrency,
        setup.as_secs_f64()
    );
    println!(
        "  login request latency p50 {:.1} ms, p99 {:.1} ms; throughput ≈ {:.0} logins/s (server side: {:.0}/s at this concurrency)",
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.len() as f64 / login_time.as_secs_f64().max(1e-9),
        a.login_concurrency as f64 / percentile(&lat, 0.5).as_secs_f64().max(1e-9),
    );

    // -- heartbeats: one playback per learner, open loop --------------------------------------------
    let interval = Duration::from_secs_f64(10.0 / a.scale);
    println!(
        "{} playbacks, one heartbeat every {:.0} ms each: offered {:.0} heartbeats/s for {} s",
        sessions.len(),
        interval.as_secs_f64() * 1e3,
        sessions.len() as f64 / interval.as_secs_f64(),
        a.seconds
    );
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds) + interval;
    let mut tasks = Vec::new();
    for (i, (token, enrolment, lesson, who)) in sessions.into_iter().enumerate() {
        let c = c.clone();
        let scale = a.scale;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let Ok(pb) = c
                .start_playback(
                    &token,
                    &PlaybackRequest {
                        enrolment_id: enrolment,
                        lesson_id: lesson,
                    },
                )
                .await
            else {
                return (lat, 1);
            };
            // spread the playbacks over one interval
            tokio::time::sleep(interval.mul_f64((i % 1000) as f64 / 1000.0)).await;
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut pos = 0.0f64;
            let mut last = Instant::now();
            for _ in 0..1_000_000 {
                let tick = ticker.tick().await;
                if Instant::now() > deadline {
                    break;
                }
                pos += last.elapsed().as_secs_f64() * scale;
                last = Instant::now();
                let req = HeartbeatRequest {
                    position_seconds: pos.min(pb.lesson_seconds),
                    rate: 1.0,
                    focused: true,
                    client_time: None,
                };
                let r = c.heartbeat(&token, &pb.playback_id, &req).await;
                lat.push(tick.elapsed());
                match r {
                    Ok(ack) => {
                        pos = ack.accepted_position;
                        for ev in ack.events {
                            let ok = match ev.kind {
                                EventKind::Popup => {
                                    let code: String = ev
                                        .prompt
                                        .unwrap_or_default()
                                        .split_whitespace()
                                        .find(|w| {
                                            w.len() == 4 && w.bytes().all(|b| b.is_ascii_digit())
                                        })
                                        .unwrap_or("")
                                        .into();
                                    c.answer_popup(&token, &pb.playback_id, &ev.event_id, &code)
                                        .await
                                        .is_ok()
                                }
                                EventKind::Capture => {
                                    let image = b64(&duxue_media::capture_image(&who, 7));
                                    c.upload_capture(&token, &pb.playback_id, &ev.event_id, image)
                                        .await
                                        .is_ok()
                                }
                            };
                            if !ok {
                                errors += 1;
                            }
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        if errors == 1 && i % 100 == 0 {
                            eprintln!("heartbeat error: {e}");
                        }
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((lat, e)) = t.await {
            all.extend(lat);
            errors += e;
        }
    }
    all.sort();
    println!(
        "heartbeats: {} in {:.0} s = {:.0}/s; latency (from intended send time) p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; errors {}",
        all.len(),
        a.seconds,
        all.len() as f64 / a.seconds,
        percentile(&all, 0.5).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        errors
    );

    if a.wrk {
        let url = format!("{base}/profile/v1/meta");
        println!("ceiling: wrk -t2 -c100 -d10s {url}");
        match std::process::Command::new("wrk")
            .args(["-t2", "-c100", "-d10s", "--latency", &url])
            .output()
        {
            Ok(out) => println!("{}", String::from_utf8_lossy(&out.stdout)),
            Err(e) => println!("wrk not available: {e}"),
        }
    }
    platform.shutdown().await?;
    Ok(())
}
