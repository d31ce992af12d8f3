//! LD-1 and LD-2: the load defects only misbehave under concurrency; the clean platform keeps
//! its latency and its refusals under the same load. Every loop is bounded in count and time.

mod common;

use std::time::{Duration, Instant};

use common::*;
use duxue_platform::Defect;
use duxue_profile::*;

/// Clock scale of the fail-open test: its 3.5 s of heartbeats span 350 cohort seconds, too few
/// for a capture it does not answer to stop the playback.
const SCALE: f64 = 100.0;

/// Runs `tasks` concurrent loops of `getMeta` for at most `wall` (and 2,000 requests each);
/// returns the median latency.
async fn hammer(c: &ProfileClient, tasks: usize, wall: Duration) -> Duration {
    let deadline = Instant::now() + wall;
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let c = c.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for _ in 0..2_000 {
                if Instant::now() > deadline {
                    break;
                }
                let t = Instant::now();
                let _ = c.get_meta().await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap_or_default());
    }
    all.sort();
    all.get(all.len() / 2).copied().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_under_load_only_slows_down_under_concurrency() {
    for defects in [vec![], vec![Defect::SlowUnderLoad]] {
        let env = Env::new(&defects).await;
        let quiet = hammer(&env.client, 1, Duration::from_millis(300)).await;
        // The load defects act once an overload has lasted (BUSY_AFTER_SECONDS): measure
        // inside a load that began three seconds earlier.
        let background = {
            let c = env.client.clone();
            tokio::spawn(async move { hammer(&c, 40, Duration::from_millis(5000)).await })
        };
        tokio::time::sleep(Duration::from_millis(3000)).await;
        let busy = hammer(&env.client, 8, Duration::from_millis(1500)).await;
        let _ = background.await;
        assert!(
            quiet < Duration::from_millis(50),
            "{defects:?} quiet median {quiet:?}"
        );
        if defects.is_empty() {
            assert!(
                busy < Duration::from_millis(100),
                "clean busy median {busy:?}"
            );
        } else {
            assert!(
                busy > Duration::from_millis(150),
                "slow-under-load busy median {busy:?}"
            );
        }
        env.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_under_load_stops_refusing_only_when_busy() {
    for defects in [vec![], vec![Defect::FailOpenUnderLoad]] {
        let env = Env::new(&defects).await;
        let c = &env.client;
        let w = world(c, SCALE).await;
        let s = student(c, 120, &w.enterprise.organisation_id).await;
        let (_, pb) = enrol_and_play(c, &s, &w, 1).await;
        let hb = |pos: f64| HeartbeatRequest {
            position_seconds: pos,
            rate: 1.0,
            focused: true,
            client_time: None,
        };
        tokio::time::sleep(Duration::from_secs_f64(10.0 / SCALE)).await;
        // quiet: the seek is refused either way
        let quiet = c
            .heartbeat(&s.session.token, &pb.playback_id, &hb(900.0))
            .await;
        assert_eq!(code(&quiet.unwrap_err()), "seek_forbidden");
        // busy: background load, then the same seek
        let bg = {
            let c = c.clone();
            tokio::spawn(async move { hammer(&c, 40, Duration::from_millis(5000)).await })
        };
        let mut pos = 0.0;
        let mut last = Instant::now();
        let started = Instant::now();
        // Past BUSY_AFTER_SECONDS of overload, so the platform counts as busy.
        while started.elapsed() < Duration::from_millis(3500) {
            tokio::time::sleep(Duration::from_secs_f64(10.0 / SCALE)).await;
            pos += last.elapsed().as_secs_f64() * SCALE;
            last = Instant::now();
            if let Ok(ack) = c
                .heartbeat(&s.session.token, &pb.playback_id, &hb(pos))
                .await
            {
                pos = ack.accepted_position;
                for ev in ack.events.iter().filter(|e| e.kind == EventKind::Popup) {
                    let _ = c
                        .answer_popup(
                            &s.session.token,
                            &pb.playback_id,
                            &ev.event_id,
                            &popup_code(ev.prompt.as_deref().unwrap_or("")),
                        )
                        .await;
                }
            }
        }
        let busy = c
            .heartbeat(&s.session.token, &pb.playback_id, &hb(pos + 900.0))
            .await;
        let _ = bg.await;
        if defects.is_empty() {
            assert_eq!(code(&busy.unwrap_err()), "seek_forbidden");
        } else {
            busy.expect("fail-open-under-load accepts a seek while busy");
        }
        env.stop().await;
    }
}
