//! §三, §五(二) 随机抓拍: at least one biometric capture in every class hour, at random times,
//! and a failed or missed capture withholds the class hour's credit.

use duxue_profile::{CaptureState, LessonCategory, LessonMode, SupervisorKind, SupervisorRequest};

use super::{check_honest_credited, round, setup, study_figures};
use crate::context::ProbeContext;
use crate::fixture::{CourseShape, Fixture};
use crate::learner::{CaptureStyle, StudyPlan};
use crate::outcome::{Judge, ProbeError};

/// An authority supervisor of the fixture's cohort, logged in.
pub(crate) async fn authority(fx: &Fixture) -> Result<String, ProbeError> {
    let credentials = setup(
        "create an authority supervisor",
        fx.client
            .create_supervisor(&SupervisorRequest {
                cohort_id: fx.cohort.cohort_id.clone(),
                kind: SupervisorKind::Authority,
                organisation_id: None,
            })
            .await,
    )?;
    let session = setup(
        "supervisor login",
        fx.client
            .supervisor_login(&credentials.username, &credentials.password)
            .await,
    )?;
    Ok(session.token)
}

/// BC-1: 每个课时均有不低于1次随机抓拍及影像记录 — captures in every class hour, images kept.
pub async fn capture_every_class_hour(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    // A 46-minute professional lesson spans a full class hour and a short one.
    let shape = CourseShape {
        delivery: duxue_profile::Delivery::PureOnline,
        lessons: vec![
            (15, LessonCategory::General, LessonMode::Online),
            (46, LessonCategory::Professional, LessonMode::Online),
        ],
    };
    let fx = Fixture::new(ctx, "BC-1", 1.0, &shape).await?;
    let lesson = fx.lesson(1)?.clone();
    let (mut learner, enrolment) = fx.enrolled_learner().await?;
    let log = learner
        .study(&StudyPlan::honest(&enrolment, &lesson.lesson_id, 3_600.0))
        .await?;
    study_figures(j, "honest", &log);
    check_honest_credited(j, ctx, "honest learner", &log);
    let hour = ctx.policy.class_hour_seconds();
    let lesson_seconds = f64::from(lesson.minutes) * 60.0;
    let hours = (lesson_seconds / hour).ceil() as u32;
    let required = ctx.policy.rules.captures_per_class_hour_min.value as usize;
    for index in 0..hours {
        let start = f64::from(index) * hour;
        let end = (start + hour).min(lesson_seconds);
        if log.final_position < end - 1.0 {
            j.undecided(
                format!("class hour {index}"),
                format!(
                    "the learner only reached {:.0} s of {end:.0} s",
                    log.final_position
                ),
            );
            continue;
        }
        let captures = log
            .captures()
            .filter(|c| c.position >= start && c.position < end + 1.0)
            .count();
        j.figure(&format!("class_hour_{index}.captures"), captures);
        j.check(
            format!(
                "class hour {index} ({start:.0}–{end:.0} s) had at least {required} capture(s)"
            ),
            captures >= required,
            format!("{captures} capture requests"),
        );
    }
    let token = authority(&fx).await?;
    let learner_id = learner.learner_id()?.to_owned();
    let listed = fx.client.list_captures(&token, &learner_id).await;
    if !j.expect_ok("the supervisor lists the learner's captures", &listed) {
        return Ok(());
    }
    let listed = listed.map_err(ProbeError::from)?;
    let mut kept = 0;
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
        let bytes = fx.client.get_image(&token, &image_id).await;
        match bytes {
            Ok(bytes) => {
                let same = Some(crate::learner::sha256(&bytes)) == seen.image_sha256;
                kept += usize::from(same);
                j.check(
                    format!("capture {}'s image is kept as uploaded", seen.event_id),
                    same,
                    format!("{} bytes retrieved", bytes.len()),
                );
            }
            Err(e) => {
                j.expect_ok::<()>(
                    &format!("capture {}'s image is retrievable", seen.event_id),
                    &Err(e),
                );
            }
        }
    }
    j.figure("capture_images_kept", kept);
    Ok(())
}

/// BC-2: 随机抓拍 — capture times are not predictable across learners or class hours.
pub async fn capture_times_random(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    const LEARNERS: usize = 8;
    let fx = Fixture::new(ctx, "BC-2", 1.0, &CourseShape::pure_online(10, 3)).await?;
    let lessons = [fx.lesson(0)?.clone(), fx.lesson(1)?.clone()];
    let mut learners = Vec::new();
    for _ in 0..LEARNERS {
        learners.push(fx.enrolled_learner().await?);
    }
    let runs = learners.iter_mut().map(|(learner, enrolment)| {
        let lessons = lessons.clone();
        async move {
            let mut logs = Vec::new();
            for lesson in &lessons {
                logs.push(
                    learner
                        .study(&StudyPlan::honest(enrolment, &lesson.lesson_id, 1_200.0))
                        .await?,
                );
            }
            Ok::<_, ProbeError>(logs)
        }
    });
    // Offsets as shares of the class hour; a capture is seen at the first heartbeat at or
    // after its time, so the harness resolves offsets to one heartbeat interval.
    let mut offsets = Vec::new();
    let mut resolution: f64 = 0.0;
    let hour = ctx.policy.class_hour_seconds();
    for logs in futures::future::join_all(runs).await {
        for (lesson, log) in lessons.iter().zip(logs?) {
            let hour_length = (f64::from(lesson.minutes) * 60.0).min(hour);
            if let Some(playback) = &log.playback {
                resolution = resolution.max(playback.heartbeat_interval_seconds / hour_length);
            }
            for capture in log.captures() {
                offsets.push((capture.position % hour) / hour_length);
            }
        }
    }
    j.figure("captures", offsets.len());
    if offsets.len() < 6 || resolution <= 0.0 {
        j.undecided(
            "capture randomness",
            format!("only {} captures observed", offsets.len()),
        );
        return Ok(());
    }
    let mean = offsets.iter().sum::<f64>() / offsets.len() as f64;
    let sd =
        (offsets.iter().map(|o| (o - mean).powi(2)).sum::<f64>() / offsets.len() as f64).sqrt();
    let sd_min = ctx.policy.judging.capture_offset_stddev_share_min.value;
    j.figure("offset_stddev_share", round(sd * 1_000.0) / 1_000.0);
    j.check(
        "capture offsets within class hours are spread",
        sd >= sd_min,
        format!(
            "standard deviation {:.3} of a class hour (at least {sd_min})",
            sd
        ),
    );
    // The narrowest uniform draw the spread check still passes covers sd_min·√12 of the hour.
    let repeat = offset_repeat(&offsets, resolution, sd_min * 12f64.sqrt());
    let chance_min = ctx.policy.judging.capture_offset_repeat_chance_min.value;
    j.figure("most_captures_at_one_offset", repeat.most);
    j.figure("chance_of_such_a_repeat", repeat.chance);
    j.check(
        "no capture offset repeats across learners and class hours more than chance allows",
        repeat.chance >= chance_min,
        format!(
            "{} of {} captures fell within one heartbeat ({:.1}% of a class hour) of each other; \
             random times would do that with probability at most {} (at least {chance_min} \
             passes)",
            repeat.most,
            offsets.len(),
            resolution * 100.0,
            if repeat.chance >= 0.01 {
                format!("{:.2}", repeat.chance)
            } else {
                format!("{:.1e}", repeat.chance)
            }
        ),
    );
    Ok(())
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

/// P(Binomial(n, p) ≥ k).
fn binomial_tail(n: usize, p: f64, k: usize) -> f64 {
    let mut term = (1.0 - p).powi(n as i32); // P(X = 0)
    let mut below = 0.0;
    for x in 0..k.min(n + 1) {
        below += term;
        term *= (n - x) as f64 / (x + 1) as f64 * p / (1.0 - p).max(f64::MIN_POSITIVE);
    }
    if k > n { 0.0 } else { (1.0 - below).max(0.0) }
}

/// BC-3: 抓拍失败或未抓拍的课时不计学时并标记 — a failed or missed capture withholds the class hour.
pub async fn failed_capture_withholds(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "BC-3", 1.0, &CourseShape::pure_online(10, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let [(mut honest, e0), (mut impostor, e1), (mut absent, e2)] = fx.enrolled_learners().await?;
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
    let honest_plan = StudyPlan::honest(&e0, &lesson, 900.0);
    let (h, i, a) = tokio::join!(
        honest.study(&honest_plan),
        impostor.study(&impostor_plan),
        absent.study(&absent_plan),
    );
    let (h, i, a) = (h?, i?, a?);
    study_figures(j, "honest", &h);
    study_figures(j, "other_person_capture", &i);
    study_figures(j, "missed_capture", &a);
    check_honest_credited(j, ctx, "honest learner", &h);
    let token = authority(&fx).await?;
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
    fn binomial_tail_matches_small_cases() {
        assert!((binomial_tail(3, 0.5, 0) - 1.0).abs() < 1e-12);
        assert!((binomial_tail(3, 0.5, 2) - 0.5).abs() < 1e-12);
        assert!((binomial_tail(3, 0.5, 3) - 0.125).abs() < 1e-12);
        assert_eq!(binomial_tail(3, 0.5, 4), 0.0);
    }

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
}
