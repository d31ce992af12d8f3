//! §三, §五(二) 随机抓拍: at least one biometric capture in every class hour (whole class hours,
//! a sample of the policy's size), at times spread uniformly and unpredictably over the class
//! hour, and a failed or missed capture withholds the class hour's credit.

use duxue_profile::{CaptureState, LessonCategory, LessonMode};

use super::{check_heartbeat_interval, check_honest_credited, round, study_figures};
use crate::context::ProbeContext;
use crate::fixture::{CourseShape, Fixture};
use crate::learner::{CaptureStyle, StudyLog, StudyPlan};
use crate::outcome::{Judge, ProbeError};
use crate::stats::{binomial_tail, distance_limit, uniformity, upper_bound_95};

/// BC-1: 每个课时均有不低于1次随机抓拍及影像记录 — captures in every class hour, images kept:
/// whole class hours (a 45-minute one and a short one of each learner's lesson) watched by
/// enough learners that the policy's sample of class hours is reached.
pub async fn capture_every_class_hour(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let hour = ctx.policy.class_hour_seconds();
    let hour_minutes = ctx.policy.rules.class_hour_minutes.value;
    // A lesson one minute longer than a class hour spans a whole class hour and a short one.
    let shape = CourseShape {
        delivery: duxue_profile::Delivery::PureOnline,
        lessons: vec![
            (15, LessonCategory::General, LessonMode::Online),
            (
                hour_minutes + 1,
                LessonCategory::Professional,
                LessonMode::Online,
            ),
        ],
    };
    let fx = Fixture::new(ctx, "BC-1", 1.0, &shape).await?;
    let lesson = fx.lesson(1)?.clone();
    let lesson_seconds = f64::from(lesson.minutes) * 60.0;
    let hours_per_lesson = (lesson_seconds / hour).ceil() as usize;
    let wanted = ctx.policy.judging.capture_class_hours_sampled.value as usize;
    let mut learners = fx
        .enrolled_learners(wanted.div_ceil(hours_per_lesson))
        .await?;
    let runs = learners.iter_mut().map(|(learner, enrolment)| {
        let plan = StudyPlan::honest(enrolment, &lesson.lesson_id, lesson_seconds + 600.0);
        async move { learner.study(&plan).await }
    });
    let logs: Vec<StudyLog> = futures::future::try_join_all(runs).await?;
    if let Some(first) = logs.first() {
        study_figures(j, "honest", first);
        check_honest_credited(j, ctx, "honest learner", first);
    }
    let required = ctx.policy.rules.captures_per_class_hour_min.value as usize;
    let (mut watched, mut missing) = (0, Vec::new());
    for (n, log) in logs.iter().enumerate() {
        for index in 0..hours_per_lesson {
            let start = index as f64 * hour;
            let end = (start + hour).min(lesson_seconds);
            if log.final_position < end - 1.0 {
                continue;
            }
            watched += 1;
            // A capture is seen at the first heartbeat at or after its position.
            let captures = log
                .captures()
                .filter(|c| c.position >= start && c.position < end + 1.0)
                .count();
            if captures < required {
                missing.push(format!(
                    "learner {n}, class hour {index} ({start:.0}–{end:.0} s): {captures}"
                ));
            }
        }
    }
    j.figure("class_hours_watched", watched);
    j.figure("class_hours_without_capture", missing.len());
    let name = format!("every class hour watched had at least {required} capture request(s)");
    if !missing.is_empty() {
        j.check(
            name,
            false,
            format!(
                "{} of {watched} class hours had too few: {}",
                missing.len(),
                missing.join("; ")
            ),
        );
    } else if watched < wanted {
        j.undecided(
            name,
            format!("only {watched} class hours were watched to their end ({wanted} wanted)"),
        );
    } else {
        let bound = upper_bound_95(0, watched);
        j.figure(
            "class_hours_without_capture_upper_95",
            round(bound * 1_000.0) / 1_000.0,
        );
        j.check(
            name,
            true,
            format!(
                "all {watched} had one; at 95% confidence at most {:.1}% of class hours go without",
                bound * 100.0
            ),
        );
    }

    let token = fx.authority().await?;
    let mut kept = 0;
    for ((learner, _), log) in learners.iter().zip(&logs) {
        let learner_id = learner.learner_id()?.to_owned();
        let listed = fx.client.list_captures(&token, &learner_id).await;
        if !j.expect_ok("the supervisor lists a learner's captures", &listed) {
            continue;
        }
        let listed = listed.map_err(ProbeError::from)?;
        for seen in log.captures().filter(|c| c.image_sha256.is_some()) {
            let record = listed.captures.iter().find(|r| r.event_id == seen.event_id);
            let Some(image_id) = record.and_then(|r| r.image_id.clone()) else {
                j.check(
                    format!("capture {} is stored with its image", seen.event_id),
                    false,
                    "no image listed",
                );
                continue;
            };
            match fx.client.get_image(&token, &image_id).await {
                Ok(bytes) => {
                    let same = Some(crate::learner::sha256(&bytes)) == seen.image_sha256;
                    kept += usize::from(same);
                    if !same {
                        j.check(
                            format!("capture {}'s image is kept as uploaded", seen.event_id),
                            false,
                            format!("{} bytes retrieved, not the bytes sent", bytes.len()),
                        );
                    }
                }
                Err(e) => {
                    j.expect_ok::<()>(
                        &format!("capture {}'s image is retrievable", seen.event_id),
                        &Err(e),
                    );
                }
            }
        }
    }
    j.figure("capture_images_kept", kept);
    let uploaded = logs
        .iter()
        .flat_map(|l| l.captures())
        .filter(|c| c.image_sha256.is_some())
        .count();
    if uploaded == 0 {
        j.undecided("capture images are kept", "no capture image was uploaded");
    } else {
        j.check(
            "every uploaded capture image is kept as uploaded",
            kept == uploaded,
            format!("{kept} of {uploaded} retrieved byte for byte"),
        );
    }
    Ok(())
}

/// BC-2: 随机抓拍 — capture times are not predictable across learners or class hours: the
/// offsets of captures within whole class hours must spread, must not repeat beyond chance
/// (a fixed offset, a few fixed offsets) and must be uniform over the class hour
/// (Kolmogorov–Smirnov: always early, always late or always mid-hour fail). With 30 offsets a
/// fixed offset lies at least 0.5 from uniform and always-in-the-first-10-minutes at least
/// 0.78, where the test fails anything beyond about 0.35.
pub async fn capture_times_random(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let hour = ctx.policy.class_hour_seconds();
    let hour_minutes = ctx.policy.rules.class_hour_minutes.value;
    let fx = Fixture::new(ctx, "BC-2", 1.0, &CourseShape::pure_online(hour_minutes, 3)).await?;
    let lesson = fx.lesson(0)?.clone();
    let wanted = ctx.policy.judging.capture_class_hours_sampled.value as usize;
    let mut learners = fx.enrolled_learners(wanted).await?;
    let runs = learners.iter_mut().map(|(learner, enrolment)| {
        let plan = StudyPlan::honest(enrolment, &lesson.lesson_id, hour + 600.0);
        async move { learner.study(&plan).await }
    });
    let logs: Vec<StudyLog> = futures::future::try_join_all(runs).await?;
    // A capture is seen at the first heartbeat at or after its time, so the harness resolves
    // offsets to one heartbeat interval: the platform's, but never longer than the policy's
    // largest heartbeat gap.
    let max_gap = f64::from(ctx.policy.rules.heartbeat_max_gap_seconds.value);
    let mut resolution: f64 = 0.0;
    let mut offsets = Vec::new();
    for log in &logs {
        if let Some(playback) = &log.playback {
            resolution =
                resolution.max(playback.heartbeat_interval_seconds.clamp(1.0, max_gap) / hour);
        }
        offsets.extend(log.captures().map(|c| (c.position / hour).min(1.0)));
    }
    check_heartbeat_interval(j, &ctx.policy, &logs);
    j.figure("captures", offsets.len());
    // Two thirds of the sample still puts a fixed offset beyond the uniformity test's limit.
    let enough = (2 * wanted).div_ceil(3).max(6);
    if offsets.len() < enough || resolution <= 0.0 {
        j.undecided(
            "capture randomness",
            format!("only {} captures observed ({enough} needed)", offsets.len()),
        );
        return Ok(());
    }
    let judging = &ctx.policy.judging;
    let o = OffsetTests::run(&offsets, resolution, judging);
    j.figure("offset_stddev_share", round(o.spread * 1_000.0) / 1_000.0);
    j.check(
        "capture offsets within class hours are spread",
        o.spread_ok(judging),
        format!(
            "standard deviation {:.3} of a class hour (at least {})",
            o.spread, judging.capture_offset_stddev_share_min.value
        ),
    );
    let chance_min = judging.capture_offset_repeat_chance_min.value;
    j.figure("most_captures_at_one_offset", o.repeat.most);
    j.figure("chance_of_such_a_repeat", o.repeat.chance);
    j.check(
        "no capture offset repeats across learners and class hours more than chance allows",
        o.repeat_ok(judging),
        format!(
            "{} of {} captures fell within one heartbeat ({:.1}% of a class hour) of each other; \
             random times would do that with probability at most {} (at least {chance_min} \
             passes)",
            o.repeat.most,
            offsets.len(),
            resolution * 100.0,
            chance(o.repeat.chance)
        ),
    );
    let uniform_min = judging.capture_offset_uniformity_chance_min.value;
    let limit = distance_limit(offsets.len(), uniform_min);
    j.figure(
        "uniformity_distance",
        round(o.uniform.distance * 1_000.0) / 1_000.0,
    );
    j.figure("uniformity_chance", o.uniform.chance);
    j.figure(
        "uniformity_distance_limit",
        round(limit * 1_000.0) / 1_000.0,
    );
    j.check(
        "capture offsets are spread uniformly over the class hour (Kolmogorov–Smirnov)",
        o.uniform_ok(judging),
        format!(
            "the offsets lie {:.3} from uniform (limit {:.3} for {} offsets); uniform times \
             would lie so far with probability {} (at least {uniform_min} passes)",
            o.uniform.distance,
            limit,
            offsets.len(),
            chance(o.uniform.chance)
        ),
    );
    Ok(())
}

/// The three tests of capture offsets (shares of a class hour) BC-2 makes.
#[derive(Debug)]
struct OffsetTests {
    /// Standard deviation of the offsets.
    spread: f64,
    repeat: OffsetRepeat,
    uniform: crate::stats::UniformityTest,
}

impl OffsetTests {
    fn run(offsets: &[f64], resolution: f64, judging: &duxue_profile::policy::Judging) -> Self {
        let n = offsets.len().max(1) as f64;
        let mean = offsets.iter().sum::<f64>() / n;
        let spread = (offsets.iter().map(|o| (o - mean).powi(2)).sum::<f64>() / n).sqrt();
        // The narrowest uniform draw the spread check still passes covers sd_min·√12 of the hour.
        let sd_min = judging.capture_offset_stddev_share_min.value;
        OffsetTests {
            spread,
            repeat: offset_repeat(offsets, resolution, sd_min * 12f64.sqrt()),
            uniform: uniformity(offsets),
        }
    }

    fn spread_ok(&self, judging: &duxue_profile::policy::Judging) -> bool {
        self.spread >= judging.capture_offset_stddev_share_min.value
    }

    fn repeat_ok(&self, judging: &duxue_profile::policy::Judging) -> bool {
        self.repeat.chance >= judging.capture_offset_repeat_chance_min.value
    }

    fn uniform_ok(&self, judging: &duxue_profile::policy::Judging) -> bool {
        self.uniform.chance >= judging.capture_offset_uniformity_chance_min.value
    }

    #[cfg(test)]
    fn all_ok(&self, judging: &duxue_profile::policy::Judging) -> bool {
        self.spread_ok(judging) && self.repeat_ok(judging) && self.uniform_ok(judging)
    }
}

fn chance(p: f64) -> String {
    if p >= 0.01 {
        format!("{p:.2}")
    } else {
        format!("{p:.1e}")
    }
}

/// How often one capture offset repeats, and how likely that is if times are random.
#[derive(Debug)]
struct OffsetRepeat {
    /// The most offsets within one window of `width`.
    most: usize,
    /// An upper bound on the chance that `n` random offsets put `most` in one such window.
    chance: f64,
}

/// A scan statistic: the most offsets (shares of a class hour) within any window of `width`,
/// and a bound on its chance under random times. Random times are taken as uniform over the
/// span the offsets themselves cover, but at least `min_span` (so a platform drawing from part
/// of the hour is not blamed for that, which the spread check judges); a window anchored at
/// each offset gives the union bound `n · P(Binomial(n − 1, p) ≥ most − 1)` with `p` the
/// window's share of that span.
fn offset_repeat(offsets: &[f64], width: f64, min_span: f64) -> OffsetRepeat {
    let mut sorted = offsets.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let most = (0..n)
        .map(|i| {
            sorted[i..]
                .iter()
                .take_while(|o| **o <= sorted[i] + width)
                .count()
        })
        .max()
        .unwrap_or(0);
    let (Some(first), Some(last)) = (sorted.first(), sorted.last()) else {
        return OffsetRepeat { most, chance: 1.0 };
    };
    let p = (width / (last - first + width).max(min_span)).min(1.0);
    let tail = binomial_tail(n.saturating_sub(1), p, most.saturating_sub(1));
    OffsetRepeat {
        most,
        chance: (n as f64 * tail).min(1.0),
    }
}

/// BC-3: 抓拍失败或未抓拍的课时不计学时并标记 — a failed or missed capture withholds the class hour.
pub async fn failed_capture_withholds(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "BC-3", 1.0, &CourseShape::pure_online(10, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let [
        (mut honest, e0),
        (mut impostor, e1),
        (mut absent, e2),
        (mut dodger, e3),
    ] = fx.enrolled_trial().await?;
    let impostor_plan = StudyPlan {
        captures: CaptureStyle::OtherPerson,
        until_complete: false,
        ..StudyPlan::honest(&e1, &lesson, 900.0)
    };
    let absent_plan = StudyPlan {
        captures: CaptureStyle::Ignore,
        until_complete: false,
        ..StudyPlan::honest(&e2, &lesson, 900.0)
    };
    // Closes the player when the capture is asked: stopping must not dodge it.
    let dodger_plan = StudyPlan {
        captures: CaptureStyle::StopWhenAsked,
        until_complete: false,
        ..StudyPlan::honest(&e3, &lesson, 900.0)
    };
    let honest_plan = StudyPlan::honest(&e0, &lesson, 900.0);
    let (h, i, a, d) = tokio::join!(
        honest.study(&honest_plan),
        impostor.study(&impostor_plan),
        absent.study(&absent_plan),
        dodger.study(&dodger_plan),
    );
    let (h, i, a, d) = (h?, i?, a?, d?);
    study_figures(j, "honest", &h);
    study_figures(j, "other_person_capture", &i);
    study_figures(j, "missed_capture", &a);
    study_figures(j, "stopped_at_capture", &d);
    check_honest_credited(j, ctx, "honest learner", &h);
    check_heartbeat_interval(j, &ctx.policy, [&h, &i, &a, &d]);
    let token = fx.authority().await?;
    for (who, learner, log, bad) in [
        (
            "a class hour whose capture showed another person",
            &impostor,
            &i,
            CaptureState::Failed,
        ),
        (
            "a class hour whose capture was never answered",
            &absent,
            &a,
            CaptureState::Missed,
        ),
        (
            "a class hour whose capture was pending when the learner stopped the playback",
            &dodger,
            &d,
            CaptureState::Missed,
        ),
    ] {
        if log.captures().count() == 0 {
            j.undecided(who, "no capture was requested, so it could not fail");
            continue;
        }
        let slack = log.credit_slack();
        j.check(
            format!("{who} is credited nothing"),
            log.credited <= slack,
            format!("credited {:.1} s (slack {slack:.1} s)", log.credited),
        );
        let listed = fx.client.list_captures(&token, learner.learner_id()?).await;
        match listed {
            Ok(list) => {
                let flagged = list
                    .captures
                    .iter()
                    .any(|c| c.state == bad || c.state == CaptureState::Failed);
                j.check(
                    format!("{who} is flagged to supervisors"),
                    flagged,
                    format!(
                        "capture states {:?}",
                        list.captures.iter().map(|c| c.state).collect::<Vec<_>>()
                    ),
                );
            }
            Err(e) => {
                j.expect_ok::<()>(&format!("{who}: supervisor lists captures"), &Err(e));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_offset_is_beyond_chance_and_random_offsets_are_not() {
        let fixed = vec![0.25; 16];
        assert!(offset_repeat(&fixed, 10.0 / 600.0, 0.35).chance < 1e-12);
        // 16 offsets spread over the hour with four of them within one heartbeat: the case a
        // share threshold of 20% failed, by chance, on a conforming platform.
        let mut spread: Vec<f64> = (0..12).map(|i| 0.03 + 0.08 * f64::from(i)).collect();
        spread.extend([0.6, 0.605, 0.61, 0.615]);
        let repeat = offset_repeat(&spread, 10.0 / 600.0, 0.35);
        assert_eq!(repeat.most, 4);
        assert!(repeat.chance > 0.001, "{repeat:?}");
    }

    /// What BC-2 makes of 30 offsets drawn by `draw`, seen at the next of the reference
    /// platform's heartbeats (10 s of a 2,700 s class hour): the share of draws it fails.
    fn fail_rate(draw: impl Fn(&mut rand_chacha::ChaCha8Rng) -> f64, runs: u32) -> f64 {
        use rand::{Rng, SeedableRng};
        let policy = duxue_profile::Policy::builtin("xuchang-2022")
            .expect("builtin")
            .expect("valid");
        let resolution = 10.0 / 2_700.0;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
        let failed = (0..runs)
            .filter(|_| {
                let offsets: Vec<f64> = (0..30)
                    .map(|_| (draw(&mut rng) + resolution * rng.random::<f64>()).min(1.0))
                    .collect();
                !OffsetTests::run(&offsets, resolution, &policy.judging).all_ok(&policy.judging)
            })
            .count();
        failed as f64 / f64::from(runs)
    }

    #[test]
    fn bc2_passes_random_times_and_fails_schedules() {
        use rand::Rng;
        let runs = 4_000;
        let random = fail_rate(|r| r.random_range(0.02..0.98), runs);
        let fixed = fail_rate(|_| 0.37, runs);
        let early = fail_rate(|r| r.random_range(0.0..600.0 / 2_700.0), runs);
        let few = fail_rate(|r| [8.0, 21.0, 34.0][r.random_range(0..3)] / 45.0, runs);
        let first_half = fail_rate(|r| r.random_range(0.0..0.5), runs);
        println!(
            "BC-2 with 30 offsets, {runs} simulated runs each: fails random times {random:.4}, \
             a fixed offset {fixed:.4}, always in the first 10 minutes {early:.4}, one of \
             three fixed offsets {few:.4}, always in the first half {first_half:.4}"
        );
        assert!(random < 0.01, "false FAIL rate {random}");
        assert_eq!(fixed, 1.0);
        assert_eq!(early, 1.0);
        assert_eq!(few, 1.0);
        assert!(first_half > 0.99, "{first_half}");
    }
}
