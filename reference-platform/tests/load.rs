//! LD-1 and LD-2: the load defects only misbehave under concurrency; the clean platform keeps
//! its latency and its refusals under the same load. Every loop is bounded in count and time.

mod common;

use std::time::{Duration, Instant};

use common::*;
use duxue_platform::Defect;
use duxue_platform::load::PEAK_ONLINE;
use duxue_profile::*;

/// Clock scale of the fail-open test: real time, so the seconds its playback stays silent
/// while the platform is hammered and the peak's learners log in stay far below any lapse.
const SCALE: f64 = 1.0;

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
async fn fail_open_under_load_stops_refusing_only_at_a_peak_of_learners_online() {
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
        tokio::time::sleep(Duration::from_secs_f64(1.0 / SCALE)).await;
        // A heavy request rate with few learners online is no peak: the seek is refused.
        let bg = {
            let c = c.clone();
            tokio::spawn(async move { hammer(&c, 40, Duration::from_millis(4000)).await })
        };
        tokio::time::sleep(Duration::from_millis(3500)).await;
        let hammered = c
            .heartbeat(&s.session.token, &pb.playback_id, &hb(900.0))
            .await;
        let _ = bg.await;
        assert_eq!(
            code(&hammered.unwrap_err()),
            "seek_forbidden",
            "{defects:?}: a seek under a heavy request rate with one learner online"
        );
        // The cohort's peak: PEAK_ONLINE learners online, then the same seek from where the
        // refusal re-anchored the player.
        // (A person whose genuine photos the registration refuses is skipped, as a desk would.)
        let mut online = 1;
        for seed in 10_000..10_000 + 3 * PEAK_ONLINE as u64 {
            if online == PEAK_ONLINE {
                break;
            }
            let who = duxue_media::identity(seed);
            let org = &w.enterprise.organisation_id;
            if c.register_learner(&registration(&who, org)).await.is_ok() {
                login(c, &who).await.expect("login");
                online += 1;
            }
        }
        assert_eq!(online, PEAK_ONLINE, "the peak's learners registered");
        let pos = c
            .heartbeat(&s.session.token, &pb.playback_id, &hb(0.0))
            .await
            .map_or(0.0, |ack| ack.accepted_position);
        let at_peak = c
            .heartbeat(&s.session.token, &pb.playback_id, &hb(pos + 900.0))
            .await;
        if defects.is_empty() {
            assert_eq!(code(&at_peak.unwrap_err()), "seek_forbidden");
        } else {
            at_peak.expect("fail-open-under-load accepts a seek at a peak");
        }
        env.stop().await;
    }
}
