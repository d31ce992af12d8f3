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
    let mut offsets = Vec::new();
    let hour = ctx.policy.class_hour_seconds();
    for logs in futures::future::join_all(runs).await {
        for (lesson, log) in lessons.iter().zip(logs?) {
            let hour_length = (f64::from(lesson.minutes) * 60.0).min(hour);
            for capture in log.captures() {
                offsets.push((capture.position % hour) / hour_length);
            }
        }
    }
    j.figure("captures", offsets.len());
    if offsets.len() < 6 {
        j.undecided(
            "capture randomness",
            format!("only {} captures observed", offsets.len()),
        );
        return Ok(());
    }
    let mean = offsets.iter().sum::<f64>() / offsets.len() as f64;
    let sd =
        (offsets.iter().map(|o| (o - mean).powi(2)).sum::<f64>() / offsets.len() as f64).sqrt();
    let mut counts = std::collections::BTreeMap::new();
    for o in &offsets {
        *counts.entry((o * 100.0).round() as i64).or_insert(0usize) += 1;
    }
    let most_common = counts.values().copied().max().unwrap_or(0) as f64 / offsets.len() as f64;
    let sd_min = ctx.policy.judging.capture_offset_stddev_share_min.value;
    let same_max = ctx.policy.judging.capture_offset_same_share_max.value;
    j.figure("offset_stddev_share", round(sd * 1_000.0) / 1_000.0);
    j.figure(
        "most_common_offset_share",
        round(most_common * 1_000.0) / 1_000.0,
    );
    j.check(
        "capture offsets within class hours are spread",
        sd >= sd_min,
        format!(
            "standard deviation {:.3} of a class hour (at least {sd_min})",
            sd
        ),
    );
    j.check(
        "no capture offset repeats across learners and class hours",
        most_common <= same_max,
        format!(
            "the most common offset carries {:.0}% of captures (at most {:.0}%)",
            most_common * 100.0,
            same_max * 100.0
        ),
    );
    Ok(())
}

/// BC-3: 抓拍失败或未抓拍的课时不计学时并标记 — a failed or missed capture withholds the class hour.
pub async fn failed_capture_withholds(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "BC-3", 1.0, &CourseShape::pure_online(10, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let (mut honest, e0) = fx.enrolled_learner().await?;
    let (mut impostor, e1) = fx.enrolled_learner().await?;
    let (mut absent, e2) = fx.enrolled_learner().await?;
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
