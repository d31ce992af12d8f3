//! §五(二) 监管: read-only supervisor accounts for the authority, audit, enterprises and
//! institutions, real-time monitoring, scopes, captures and liveness records with their
//! images, the course-brushing self-check, and the completion export with its subsidy payee.

use std::time::{Duration, Instant};

use duxue_profile::{
    Auth, ClassRequest, Delivery, LessonCategory, LessonMode, LiveStatus, OrganisationKind,
    RawAnswer, SupervisorKind, SupervisorRequest, operation,
};

use super::capture::authority;
use super::{round, setup};
use crate::behaviour::Behaviour;
use crate::context::ProbeContext;
use crate::fixture::{CourseShape, Fixture, proposal};
use crate::learner::{CaptureStyle, Presentation, StudyPlan};
use crate::outcome::{Judge, ProbeError};

async fn supervisor(
    fx: &Fixture,
    kind: SupervisorKind,
    organisation_id: Option<&str>,
) -> Result<String, duxue_profile::ClientError> {
    let credentials = fx
        .client
        .create_supervisor(&SupervisorRequest {
            cohort_id: fx.cohort.cohort_id.clone(),
            kind,
            organisation_id: organisation_id.map(str::to_owned),
        })
        .await?;
    Ok(fx
        .client
        .supervisor_login(&credentials.username, &credentials.password)
        .await?
        .token)
}

/// SV-1: 向培训主管部门、审计部门、企业、院校生成监管账号.
pub async fn supervisor_accounts(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "SV-1", 1.0, &CourseShape::pure_online(8, 3)).await?;
    let (learner, _) = fx.enrolled_learner().await?;
    let learner_id = learner.learner_id()?.to_owned();
    let enterprise = fx.enterprise.organisation_id.clone();
    let institution = fx.institution.organisation_id.clone();
    let kinds = [
        (
            "the training authority (人社部门)",
            SupervisorKind::Authority,
            None,
            true,
        ),
        ("audit (审计部门)", SupervisorKind::Audit, None, true),
        (
            "an enterprise (企业)",
            SupervisorKind::Enterprise,
            Some(enterprise.as_str()),
            true,
        ),
        (
            "an institution (院校)",
            SupervisorKind::Institution,
            Some(institution.as_str()),
            false,
        ),
    ];
    for (who, kind, organisation, sees_learner) in kinds {
        let token = supervisor(&fx, kind, organisation).await;
        if !j.expect_ok(
            &format!("a supervisor account for {who} is created and logs in"),
            &token,
        ) {
            continue;
        }
        let token = token.map_err(ProbeError::from)?;
        let listed = fx.client.list_learners(&token).await;
        if j.expect_ok(&format!("{who} sees its learners"), &listed) && sees_learner {
            let list = listed.map_err(ProbeError::from)?;
            j.check(
                format!("{who} sees the enterprise's learner"),
                list.learners.iter().any(|l| l.learner_id == learner_id),
                format!("{} learners listed", list.learners.len()),
            );
        }
    }
    Ok(())
}

/// SV-2: 对学习情况做到实时监管 — learner events visible within the freshness bound.
pub async fn real_time_monitoring(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "SV-2", 1.0, &CourseShape::pure_online(20, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let bound = ctx.policy.judging.supervisor_freshness_seconds.value;
    let token = authority(&fx).await?;
    let (mut learner, enrolment) = fx.enrolled_learner().await?;
    let learner_id = learner.learner_id()?.to_owned();
    let plan = StudyPlan {
        until_complete: false,
        ..StudyPlan::honest(&enrolment, &lesson, 20.0 + bound * 2.0 * fx.clock.scale)
    };
    let stopped_at = std::sync::Mutex::new(None::<Instant>);
    let started_at = Instant::now();
    let study = async {
        let log = learner.study(&plan).await;
        *stopped_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        log
    };
    let watch = async {
        let mut seen_studying = None;
        let mut seen_stopped = None;
        let deadline = started_at
            + Duration::from_secs_f64(bound * 4.0 + plan.budget_seconds / fx.clock.scale);
        let mut polls = 0u32;
        while Instant::now() < deadline && seen_stopped.is_none() {
            polls += 1;
            if let Ok(list) = fx.client.list_learners(&token).await {
                let status = list
                    .learners
                    .iter()
                    .find(|l| l.learner_id == learner_id)
                    .map(|l| l.status);
                let stopped = *stopped_at.lock().unwrap_or_else(|e| e.into_inner());
                if status == Some(LiveStatus::Studying) && seen_studying.is_none() {
                    seen_studying = Some(started_at.elapsed());
                }
                if let Some(stopped) = stopped
                    && seen_studying.is_some()
                    && status != Some(LiveStatus::Studying)
                {
                    seen_stopped = Some(stopped.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        (seen_studying, seen_stopped, polls)
    };
    let (log, (studying, stopped, polls)) = tokio::join!(study, watch);
    let log = log?;
    j.figure("polls", polls);
    j.figure("freshness_bound_seconds", bound);
    if log.acks == 0 {
        j.undecided("study", "the learner's playback never ran");
        return Ok(());
    }
    match studying {
        Some(latency) => {
            j.figure("start_visible_after_seconds", round(latency.as_secs_f64()));
            j.check(
                "a learner who starts studying is shown as studying within the bound",
                latency.as_secs_f64() <= bound,
                format!("{:.1} s (bound {bound:.0} s)", latency.as_secs_f64()),
            );
        }
        None => {
            j.check(
                "a learner who starts studying is shown as studying",
                false,
                "never shown as studying",
            );
        }
    }
    if let Some(latency) = stopped {
        j.figure("stop_visible_after_seconds", round(latency.as_secs_f64()));
        j.check(
            "a learner who stops is no longer shown as studying within the bound",
            latency.as_secs_f64() <= bound,
            format!("{:.1} s (bound {bound:.0} s)", latency.as_secs_f64()),
        );
    } else if studying.is_some() {
        j.check(
            "a learner who stops is no longer shown as studying",
            false,
            "still shown as studying",
        );
    }
    Ok(())
}

/// SV-3: 企业或院校监管账号只能看到本单位学员.
pub async fn scoped_supervisors(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "SV-3", 1.0, &CourseShape::pure_online(8, 3)).await?;
    let other_org = fx
        .organisation("另一企业", OrganisationKind::Enterprise)
        .await?;
    let (own, _) = fx.enrolled_learner().await?;
    let mut foreign = fx.learner();
    foreign.organisation_id = other_org.organisation_id.clone();
    setup(
        "register a learner of another enterprise",
        foreign.register().await.map(|_| ()),
    )?;
    let own_id = own.learner_id()?.to_owned();
    let foreign_id = foreign.learner_id()?.to_owned();
    let token = setup(
        "enterprise supervisor",
        supervisor(
            &fx,
            SupervisorKind::Enterprise,
            Some(&fx.enterprise.organisation_id),
        )
        .await,
    )?;
    let listed = setup("list learners", fx.client.list_learners(&token).await)?;
    let ids: Vec<&str> = listed
        .learners
        .iter()
        .map(|l| l.learner_id.as_str())
        .collect();
    j.figure("learners_listed", ids.len());
    j.check(
        "the enterprise supervisor lists its own learner",
        ids.contains(&own_id.as_str()),
        format!("{} listed", ids.len()),
    );
    j.check(
        "the enterprise supervisor does not list another enterprise's learner",
        !ids.contains(&foreign_id.as_str()),
        format!("{} listed", ids.len()),
    );
    let record = fx.client.get_learner(&token, &foreign_id).await;
    j.expect_refused("another enterprise's learner record is refused", &record);
    let trajectory = fx.client.get_trajectory(&token, &foreign_id).await;
    j.expect_refused(
        "another enterprise's learner trajectory is refused",
        &trajectory,
    );
    let captures = fx.client.list_captures(&token, &foreign_id).await;
    j.expect_refused(
        "another enterprise's learner captures are refused",
        &captures,
    );
    let own_record = fx.client.get_learner(&token, &own_id).await;
    j.expect_ok("its own learner's record is shown", &own_record);
    Ok(())
}

/// SV-4: 监管账号只读 — every write a supervisor token attempts is refused.
pub async fn read_only_supervisors(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "SV-4", 1.0, &CourseShape::pure_online(10, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let token = authority(&fx).await?;
    let (learner, enrolment) = fx.enrolled_learner().await?;
    let learner_token = learner.token()?.to_owned();
    let playback = setup(
        "start a playback",
        fx.client
            .start_playback(
                &learner_token,
                &duxue_profile::PlaybackRequest {
                    enrolment_id: enrolment.clone(),
                    lesson_id: lesson.clone(),
                },
            )
            .await,
    )?;
    let heartbeat = serde_json::json!({"position_seconds": 0.0, "rate": 1.0, "focused": true});
    // Conformance operations are SC-4's: they must refuse every credential but the token.
    let writes: Vec<(&str, &'static str, Vec<String>, serde_json::Value)> = vec![
        (
            "send a heartbeat for the learner",
            "heartbeat",
            vec![playback.playback_id.clone()],
            heartbeat,
        ),
        (
            "answer a popup for the learner",
            "answerPopup",
            vec![playback.playback_id.clone(), "any".into()],
            serde_json::json!({"answer": "0000"}),
        ),
        (
            "stop the learner's playback",
            "stopPlayback",
            vec![playback.playback_id.clone()],
            serde_json::Value::Null,
        ),
        (
            "enrol as the learner",
            "enrol",
            vec![],
            serde_json::json!({"class_id": fx.class.class_id}),
        ),
        (
            "start a playback as the learner",
            "startPlayback",
            vec![],
            serde_json::json!({"enrolment_id": enrolment, "lesson_id": lesson}),
        ),
        (
            "log the learner out",
            "logout",
            vec![],
            serde_json::Value::Null,
        ),
    ];
    let mut refused = 0;
    for (what, op_id, args, body) in &writes {
        let Some(op) = operation(op_id) else { continue };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let body = (!body.is_null()).then(|| body.to_string().into_bytes());
        let answer = fx
            .client
            .send_raw(op, &args, Auth::Bearer(&token), body)
            .await;
        refused += usize::from(write_refused(
            j,
            &format!("a supervisor may not {what}"),
            answer,
        ));
    }
    let learner_id = learner.learner_id()?.to_owned();
    for method in ["PUT", "PATCH", "DELETE"] {
        let path = format!("/supervision/learners/{learner_id}");
        let answer = fx
            .client
            .send_method(
                "supervisionWrite",
                method,
                &path,
                Auth::Bearer(&token),
                Some(b"{}".to_vec()),
            )
            .await;
        refused += usize::from(write_refused(
            j,
            &format!("{method} on a learner record is refused"),
            answer,
        ));
    }
    j.figure("writes_attempted", writes.len() + 3);
    j.figure("writes_refused", refused);
    let still = fx.client.get_me(&learner_token).await;
    j.expect_ok("the learner's own session is untouched", &still);
    let _ = fx
        .client
        .stop_playback(&learner_token, &playback.playback_id)
        .await;
    Ok(())
}

/// Checks that a write was answered with a client-error status (a refusal).
fn write_refused(
    j: &mut Judge,
    what: &str,
    answer: Result<RawAnswer, duxue_profile::ClientError>,
) -> bool {
    match answer {
        Ok(a) => j.check(
            what,
            (400..500).contains(&a.status),
            format!("HTTP {}", a.status),
        ),
        Err(e) => {
            j.undecided(what, e.to_string());
            false
        }
    }
}

/// SV-5: 抓拍和活体检测结果连同影像可供调阅.
pub async fn captures_and_liveness_retrievable(
    ctx: &ProbeContext,
    j: &mut Judge,
) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "SV-5", 1.0, &CourseShape::pure_online(10, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let token = authority(&fx).await?;
    let mut learner = fx.learner();
    setup("register", learner.register().await.map(|_| ()))?;
    let refused_attempt = learner
        .login_as(Presentation::Attack(duxue_media::Species::Print))
        .await
        .map(|_| ());
    let refused_attempt_made = refused_attempt.is_err();
    setup("genuine login", learner.login().await.map(|_| ()))?;
    let enrolment = learner.enrol(&fx.class.class_id).await?;
    let log = learner
        .study(&StudyPlan::honest(&enrolment.enrolment_id, &lesson, 900.0))
        .await?;
    let learner_id = learner.learner_id()?.to_owned();

    let record = setup(
        "learner record",
        fx.client.get_learner(&token, &learner_id).await,
    )?;
    let (face_sha, card_sha) = learner.registration_sha256.clone().unwrap_or_default();
    for (what, image_id, expected) in [
        (
            "the registration face image",
            &record.face_image_id,
            &face_sha,
        ),
        (
            "the registration ID-card image",
            &record.id_card_image_id,
            &card_sha,
        ),
    ] {
        same_image(ctx, j, &token, what, image_id, expected).await;
    }

    let attempts = setup(
        "liveness list",
        fx.client.list_liveness(&token, &learner_id).await,
    )?;
    let accepted = attempts.attempts.iter().filter(|a| a.accepted).count();
    let refused = attempts.attempts.iter().filter(|a| !a.accepted).count();
    j.figure("liveness_attempts_listed", attempts.attempts.len());
    j.check(
        "the accepted liveness check is listed",
        accepted >= 1,
        format!("{accepted} accepted listed"),
    );
    if refused_attempt_made {
        j.check(
            "the refused liveness attempt is listed",
            refused >= 1,
            format!("{refused} refused listed"),
        );
    }
    let mut frames_checked = 0;
    for attempt in &attempts.attempts {
        let Some(sent) = learner.frames_sha256.get(&attempt.challenge_id) else {
            continue;
        };
        if let (Some(image_id), Some(expected)) = (attempt.frame_image_ids.first(), sent.first()) {
            same_image(
                ctx,
                j,
                &token,
                &format!("a frame of liveness attempt {}", attempt.challenge_id),
                image_id,
                expected,
            )
            .await;
            frames_checked += 1;
        }
    }
    if frames_checked == 0 {
        j.check(
            "liveness frames are retrievable",
            false,
            "no listed attempt had frames the harness sent",
        );
    }

    let captures = setup(
        "capture list",
        fx.client.list_captures(&token, &learner_id).await,
    )?;
    j.figure("captures_listed", captures.captures.len());
    let mut compared = 0;
    for seen in log.captures() {
        let Some(expected) = &seen.image_sha256 else {
            continue;
        };
        match captures
            .captures
            .iter()
            .find(|c| c.event_id == seen.event_id)
            .and_then(|c| c.image_id.clone())
        {
            Some(image_id) => {
                same_image(
                    ctx,
                    j,
                    &token,
                    &format!("capture {}", seen.event_id),
                    &image_id,
                    expected,
                )
                .await;
                compared += 1;
            }
            None => {
                j.check(
                    format!("capture {} is listed with its image", seen.event_id),
                    false,
                    "not listed",
                );
            }
        }
    }
    if compared == 0 {
        j.undecided("capture images", "no capture was made during the study");
    }
    Ok(())
}

async fn same_image(
    ctx: &ProbeContext,
    j: &mut Judge,
    token: &str,
    what: &str,
    image_id: &str,
    expected: &str,
) {
    match ctx.client.get_image(token, image_id).await {
        Ok(bytes) => {
            let same = crate::learner::sha256(&bytes) == expected;
            j.check(
                format!("{what} is retrievable as sent"),
                same,
                format!(
                    "{} bytes, sha256 {}",
                    bytes.len(),
                    if same { "equal" } else { "differs" }
                ),
            );
        }
        Err(e) => {
            j.expect_ok::<()>(&format!("{what} is retrievable"), &Err(e));
        }
    }
}

/// SV-6: 平台应具备针对学员学习轨迹进行合规性自查功能，判断是否有刷课行为.
pub async fn self_check_flags_brushing(
    ctx: &ProbeContext,
    j: &mut Judge,
) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "SV-6", 0.5, &CourseShape::pure_online(20, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let token = authority(&fx).await?;
    let cast = [
        Behaviour::Honest,
        Behaviour::Honest,
        Behaviour::Honest,
        Behaviour::PopupAutoClicker,
        Behaviour::OtherPersonSpoofer,
        Behaviour::Seeker,
        Behaviour::Speeder4,
    ];
    let mut learners = Vec::new();
    for behaviour in cast {
        let (learner, enrolment) = fx.enrolled_learner().await?;
        learners.push((behaviour, learner, enrolment));
    }
    let runs = learners.iter_mut().map(|(behaviour, learner, enrolment)| {
        let mut plan = behaviour.plan(enrolment, &lesson, 1_300.0);
        if *behaviour == Behaviour::OtherPersonSpoofer {
            plan.captures = CaptureStyle::OtherPerson;
        }
        async move { learner.study(&plan).await }
    });
    for result in futures::future::join_all(runs).await {
        result?;
    }
    let report = setup("self-check", fx.client.self_check(&token).await)?;
    let flagged: Vec<&str> = report
        .flagged
        .iter()
        .map(|f| f.learner_id.as_str())
        .collect();
    let mut honest = 0;
    let mut honest_flagged = 0;
    let mut honest_signals = Vec::new();
    for (behaviour, learner, _) in &learners {
        let id = learner.learner_id()?;
        let is_flagged = flagged.contains(&id);
        let signals: Vec<String> = report
            .flagged
            .iter()
            .filter(|f| f.learner_id == id)
            .flat_map(|f| {
                f.signals
                    .iter()
                    .map(|s| format!("{}: {}", s.kind, s.detail))
            })
            .collect();
        if behaviour.is_cheat() {
            j.check(
                format!("a {behaviour:?} learner is flagged"),
                is_flagged,
                if is_flagged {
                    format!("signals {signals:?}")
                } else {
                    "not flagged".into()
                },
            );
        } else {
            honest += 1;
            honest_flagged += usize::from(is_flagged);
            honest_signals.extend(signals);
        }
    }
    let share = honest_flagged as f64 / honest.max(1) as f64;
    let bound = ctx.policy.judging.self_check_honest_flag_share_max.value;
    j.figure("learners_checked", report.learners_checked);
    j.figure("flagged", flagged.len());
    j.figure("honest_flagged", honest_flagged);
    j.check(
        "honest learners are not flagged beyond the policy's share",
        share <= bound,
        format!(
            "{honest_flagged} of {honest} honest learners flagged (at most {:.0}%){}",
            bound * 100.0,
            if honest_signals.is_empty() {
                String::new()
            } else {
                format!(", for {}", honest_signals.join("; "))
            }
        ),
    );
    Ok(())
}

/// SV-7: 当班结业信息与已计学时一致.
pub async fn completion_export_agrees(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "SV-7", 1.0, &CourseShape::pure_online(10, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let token = authority(&fx).await?;
    let [(mut honest, e0), (mut impostor, e1)] = fx.enrolled_learners().await?;
    let bad_plan = StudyPlan {
        captures: CaptureStyle::OtherPerson,
        until_complete: false,
        ..StudyPlan::honest(&e1, &lesson, 900.0)
    };
    let honest_plan = StudyPlan::honest(&e0, &lesson, 900.0);
    let (h, i) = tokio::join!(honest.study(&honest_plan), impostor.study(&bad_plan));
    let (h, i) = (h?, i?);
    let export = setup(
        "completion export",
        fx.client
            .export_completion(&token, &fx.class.class_id)
            .await,
    )?;
    let hour = ctx.policy.class_hour_seconds();
    for (who, learner, enrolment, log) in [
        ("the honest learner", &honest, &e0, &h),
        ("the learner whose capture failed", &impostor, &e1, &i),
    ] {
        let id = learner.learner_id()?;
        let progress = setup(
            "progress",
            fx.client.get_progress(learner.token()?, enrolment).await,
        )?;
        let Some(line) = export.learners.iter().find(|l| l.learner_id == id) else {
            j.check(
                format!("{who} is in the completion export"),
                false,
                "missing",
            );
            continue;
        };
        j.figure(
            &format!(
                "{}.export_credited",
                if log.credited > 0.0 {
                    "honest"
                } else {
                    "failed_capture"
                }
            ),
            round(line.credited_seconds),
        );
        j.check(
            format!("{who}'s exported credit equals its credited time"),
            (line.credited_seconds - progress.credited_seconds).abs() <= 1.0,
            format!(
                "export {:.1} s, progress {:.1} s",
                line.credited_seconds, progress.credited_seconds
            ),
        );
        j.check(
            format!("{who}'s exported class hours follow from its credited time"),
            line.class_hours == (progress.credited_seconds / hour).floor() as u32,
            format!(
                "export {} class hours for {:.1} s",
                line.class_hours, progress.credited_seconds
            ),
        );
        if log.creditable > 0.0 {
            let slack = log.credit_slack();
            j.check(
                format!("{who}'s exported credit is no more than it legitimately studied"),
                line.credited_seconds <= log.creditable + slack,
                format!(
                    "export {:.1} s, creditable {:.1} s",
                    line.credited_seconds, log.creditable
                ),
            );
        }
    }
    Ok(())
}

/// SV-8: 纯线上补贴拨付给企业，线上+线下可拨付至培训机构.
pub async fn subsidy_payee(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "SV-8", 1.0, &CourseShape::pure_online(8, 3)).await?;
    let token = authority(&fx).await?;
    let occupation = ctx.course_occupation(Delivery::Blended)?;
    let shape = CourseShape {
        delivery: Delivery::Blended,
        lessons: vec![
            (25, LessonCategory::General, LessonMode::Online),
            (15, LessonCategory::Professional, LessonMode::Online),
            (60, LessonCategory::Professional, LessonMode::Offline),
        ],
    };
    let blended_course = setup(
        "propose a blended course",
        ctx.client
            .propose_course(&proposal(&shape, &occupation, "SV-8"))
            .await,
    )?;
    let blended_class = setup(
        "create a blended class",
        fx.client
            .create_class(&ClassRequest {
                course_id: blended_course.course_id.clone(),
                organiser_id: fx.institution.organisation_id.clone(),
                name: crate::fixture::names::class("SV-8 blended"),
            })
            .await,
    )?;
    let (_learner, _) = fx.enrolled_learner().await?;
    for (what, class_id, payee) in [
        ("pure-online", &fx.class.class_id, &fx.enterprise),
        ("blended", &blended_class.class_id, &fx.institution),
    ] {
        let export = fx.client.export_completion(&token, class_id).await;
        if !j.expect_ok(&format!("the {what} class exports its completion"), &export) {
            continue;
        }
        let export = export.map_err(ProbeError::from)?;
        j.figure(&format!("{what}.payee"), &export.payee.name);
        j.check(
            format!(
                "the {what} class's subsidy goes to the {}",
                if payee.kind == OrganisationKind::Enterprise {
                    "enterprise"
                } else {
                    "institution"
                }
            ),
            export.payee.organisation_id == payee.organisation_id,
            format!("payee {} ({:?})", export.payee.name, export.payee.kind),
        );
    }
    Ok(())
}
