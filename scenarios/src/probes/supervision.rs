//! §五(二) 监管: read-only supervisor accounts for the authority, audit, enterprises and
//! institutions, real-time monitoring, scopes, captures and liveness records with their
//! images, the course-brushing self-check, and the completion export with its subsidy payee.

use std::time::{Duration, Instant};

use duxue_profile::operations::Method;
use duxue_profile::{
    Auth, ClassRequest, Delivery, ErrorCode, LessonCategory, LessonMode, LiveStatus, OPERATIONS,
    OrganisationKind, Security, SupervisorKind,
};
use rand::seq::SliceRandom;

use super::sitting::Sitting;
use super::{round, setup};
use crate::behaviour::Behaviour;
use crate::context::ProbeContext;
use crate::fixture::{CourseShape, Fixture, proposal};
use crate::learner::{CaptureStyle, Presentation, SimLearner, StudyLog, StudyPlan};
use crate::outcome::{Judge, ProbeError};

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
        let token = fx.supervisor(kind, organisation).await;
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
    let token = fx.authority().await?;
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

/// A learner of the SV-3 world: its id and the ids of its images (as the authority sees them).
struct Seen {
    id: String,
    images: Vec<String>,
}

/// SV-3: 企业或院校监管账号只能看到本单位学员 — on every supervision operation (learners,
/// records, trajectories, captures, liveness, images, the self-check, classes, the completion
/// export), for enterprise and institution supervisors alike.
pub async fn scoped_supervisors(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "SV-3", 1.0, &CourseShape::pure_online(8, 3)).await?;
    let other_enterprise = fx
        .organisation("另一企业", OrganisationKind::Enterprise)
        .await?;
    let other_institution = fx
        .organisation("另一培训学校", OrganisationKind::Institution)
        .await?;
    let occupation = ctx.course_occupation(Delivery::Blended)?;
    let blended = CourseShape {
        delivery: Delivery::Blended,
        lessons: vec![
            (25, LessonCategory::General, LessonMode::Online),
            (15, LessonCategory::Professional, LessonMode::Online),
            (60, LessonCategory::Professional, LessonMode::Offline),
        ],
    };
    let course = setup(
        "propose a blended course",
        ctx.client
            .propose_course(&proposal(&blended, &occupation, "SV-3"))
            .await,
    )?;
    let class_of = |organiser: String, name: &'static str| {
        let client = fx.client.clone();
        let course_id = course.course_id.clone();
        async move {
            setup(
                "create a class",
                client
                    .create_class(&ClassRequest {
                        course_id,
                        organiser_id: organiser,
                        name: crate::fixture::names::class(name),
                    })
                    .await,
            )
        }
    };
    let institution_class = class_of(fx.institution.organisation_id.clone(), "SV-3 本校班").await?;
    let foreign_class = class_of(other_institution.organisation_id.clone(), "SV-3 他校班").await?;

    // The enterprise's employee in the enterprise's own class.
    let (employee, _) = fx.enrolled_learner().await?;
    // Another employee of the enterprise, in the institution's class.
    let mut student = fx.learner();
    setup("register a student", student.register().await.map(|_| ()))?;
    setup("student login", student.login().await.map(|_| ()))?;
    student.enrol(&institution_class.class_id).await?;
    // Somebody else's: another enterprise's employee in another institution's class, whose
    // refused spoof leaves liveness frames and a self-check signal to leak.
    let mut stranger = fx.learner();
    stranger.organisation_id = other_enterprise.organisation_id.clone();
    setup("register a stranger", stranger.register().await.map(|_| ()))?;
    let _ = stranger
        .login_as(Presentation::Attack(duxue_media::Species::Print))
        .await;
    setup("stranger login", stranger.login().await.map(|_| ()))?;
    stranger.enrol(&foreign_class.class_id).await?;

    let authority = fx.authority().await?;
    let mut seen = Vec::new();
    for learner in [&employee, &student, &stranger] {
        let id = learner.learner_id()?.to_owned();
        let record = setup(
            "the authority reads a learner",
            fx.client.get_learner(&authority, &id).await,
        )?;
        let liveness = setup(
            "the authority reads liveness",
            fx.client.list_liveness(&authority, &id).await,
        )?;
        let mut images = vec![record.face_image_id, record.id_card_image_id];
        images.extend(
            liveness
                .attempts
                .iter()
                .flat_map(|a| a.frame_image_ids.first().cloned()),
        );
        seen.push(Seen { id, images });
    }
    let flagged_by_authority: Vec<String> = fx
        .client
        .self_check(&authority)
        .await
        .map(|r| r.flagged.into_iter().map(|f| f.learner_id).collect())
        .unwrap_or_default();
    let (employee, student, stranger) = (&seen[0], &seen[1], &seen[2]);

    let institution = fx.institution.organisation_id.clone();
    let enterprise = fx.enterprise.organisation_id.clone();
    // Who each supervisor must see and must not; where the profile leaves it open (an
    // enterprise's employee in an institution's class) nothing is asserted.
    let views = [
        Scope {
            who: "enterprise",
            kind: SupervisorKind::Enterprise,
            organisation: &enterprise,
            own: vec![employee],
            hidden: vec![stranger],
            own_classes: vec![&fx.class.class_id],
            hidden_classes: vec![&foreign_class.class_id],
        },
        Scope {
            who: "institution",
            kind: SupervisorKind::Institution,
            organisation: &institution,
            own: vec![student],
            hidden: vec![stranger, employee],
            own_classes: vec![&institution_class.class_id],
            hidden_classes: vec![&foreign_class.class_id, &fx.class.class_id],
        },
    ];
    let mut tally = (0, 0);
    for scope in &views {
        scope_holds(j, &fx, scope, &flagged_by_authority, &mut tally).await?;
    }
    j.figure("out_of_scope_reads", tally.0);
    j.figure("out_of_scope_reads_denied", tally.1);
    Ok(())
}

/// What one enterprise or institution supervisor must and must not see.
struct Scope<'a> {
    who: &'static str,
    kind: SupervisorKind,
    organisation: &'a str,
    own: Vec<&'a Seen>,
    hidden: Vec<&'a Seen>,
    own_classes: Vec<&'a String>,
    hidden_classes: Vec<&'a String>,
}

/// Checks one supervisor's scope on every supervision operation; `tally` counts the reads
/// outside the scope tried and denied.
async fn scope_holds(
    j: &mut Judge,
    fx: &Fixture,
    scope: &Scope<'_>,
    flagged_by_authority: &[String],
    tally: &mut (usize, usize),
) -> Result<(), ProbeError> {
    let who = scope.who;
    let token = setup(
        &format!("{who} supervisor"),
        fx.supervisor(scope.kind, Some(scope.organisation)).await,
    )?;
    let listed = setup("list learners", fx.client.list_learners(&token).await)?;
    let ids: Vec<&str> = listed
        .learners
        .iter()
        .map(|l| l.learner_id.as_str())
        .collect();
    j.figure(&format!("{who}.learners_listed"), ids.len());
    for learner in &scope.own {
        j.check(
            format!("the {who} supervisor lists its own learner"),
            ids.contains(&learner.id.as_str()),
            format!("{} listed", ids.len()),
        );
        let record = fx.client.get_learner(&token, &learner.id).await;
        j.expect_ok(
            &format!("the {who} supervisor reads its own learner"),
            &record,
        );
    }
    let mut denied =
        |j: &mut Judge, name: String, result: Result<(), duxue_profile::ClientError>| {
            tally.0 += 1;
            tally.1 += usize::from(j.expect_denied(&name, &result, OUT_OF_SCOPE));
        };
    for learner in &scope.hidden {
        let id = learner.id.as_str();
        j.check(
            format!("the {who} supervisor does not list a learner outside its scope"),
            !ids.contains(&id),
            format!("{} listed", ids.len()),
        );
        let reads = [
            (
                "record",
                fx.client.get_learner(&token, id).await.map(|_| ()),
            ),
            (
                "trajectory",
                fx.client.get_trajectory(&token, id).await.map(|_| ()),
            ),
            (
                "captures",
                fx.client.list_captures(&token, id).await.map(|_| ()),
            ),
            (
                "liveness attempts",
                fx.client.list_liveness(&token, id).await.map(|_| ()),
            ),
        ];
        for (what, result) in reads {
            denied(
                j,
                format!(
                    "the {who} supervisor may not read the {what} of a learner outside its scope"
                ),
                result,
            );
        }
        for image in &learner.images {
            let result = fx.client.get_image(&token, image).await.map(|_| ());
            denied(
                j,
                format!(
                    "the {who} supervisor may not fetch an image of a learner outside its scope ({image})"
                ),
                result,
            );
        }
    }
    let report = fx.client.self_check(&token).await;
    if j.expect_ok(
        &format!("the {who} supervisor runs the self-check"),
        &report,
    ) {
        let report = report.map_err(ProbeError::from)?;
        let leaked = report
            .flagged
            .iter()
            .filter(|f| scope.hidden.iter().any(|h| h.id == f.learner_id))
            .count();
        // Only a learner the authority's self-check flags can show a leak through the flags.
        if scope
            .hidden
            .iter()
            .any(|h| flagged_by_authority.contains(&h.id))
        {
            j.check(
                format!("the {who} supervisor's self-check flags no learner outside its scope"),
                leaked == 0,
                format!(
                    "{} flagged, {leaked} of them outside its scope",
                    report.flagged.len()
                ),
            );
        }
        j.check(
            format!("the {who} supervisor's self-check checks no more learners than it may see"),
            report.learners_checked as usize <= ids.len(),
            format!(
                "{} learners checked, {} visible",
                report.learners_checked,
                ids.len()
            ),
        );
    }
    let classes = fx.client.list_classes(&token).await;
    if j.expect_ok(&format!("the {who} supervisor lists classes"), &classes) {
        let classes = classes.map_err(ProbeError::from)?;
        let listed: Vec<&str> = classes
            .classes
            .iter()
            .map(|c| c.class_id.as_str())
            .collect();
        for class in &scope.own_classes {
            j.check(
                format!("the {who} supervisor lists its own class"),
                listed.contains(&class.as_str()),
                format!("{} classes listed", listed.len()),
            );
        }
        for class in &scope.hidden_classes {
            j.check(
                format!("the {who} supervisor does not list a class outside its scope"),
                !listed.contains(&class.as_str()),
                format!("{} classes listed", listed.len()),
            );
        }
    }
    for class in &scope.own_classes {
        let export = fx.client.export_completion(&token, class).await;
        if j.expect_ok(
            &format!("the {who} supervisor exports its own class"),
            &export,
        ) {
            let export = export.map_err(ProbeError::from)?;
            let leaked = export
                .learners
                .iter()
                .filter(|l| scope.hidden.iter().any(|h| h.id == l.learner_id))
                .count();
            j.check(
                format!("the {who} supervisor's export of its own class names no learner outside its scope"),
                leaked == 0,
                format!("{} lines, {leaked} outside its scope", export.learners.len()),
            );
        }
    }
    for class in &scope.hidden_classes {
        let result = fx.client.export_completion(&token, class).await.map(|_| ());
        denied(
            j,
            format!("the {who} supervisor may not export a class outside its scope"),
            result,
        );
    }
    Ok(())
}

/// How a read outside a supervisor's scope may be refused: 403 `forbidden`, or 404 `not_found`
/// so that the resource's existence does not leak (either is conforming).
const OUT_OF_SCOPE: &[u16] = &[403, 404];

/// How a write by a token without the authority for it is refused.
const NOT_YOURS: &[u16] = &[401, 403];

/// SV-4: 监管账号只读 — every learner write a supervisor token attempts, on the learner's real
/// resources, is refused for authority (401/403), and the learner's state read back after each
/// is untouched; every write method on a supervision resource is refused too.
pub async fn read_only_supervisors(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "SV-4", 1.0, &CourseShape::pure_online(8, 3)).await?;
    let lesson = fx.lesson(0)?.clone();
    let token = fx.authority().await?;
    let (mut learner, enrolment) = fx.enrolled_learner().await?;
    let learner_token = learner.token()?.to_owned();
    let learner_id = learner.learner_id()?.to_owned();
    let max_gap = f64::from(ctx.policy.rules.heartbeat_max_gap_seconds.value);
    let mut sitting = Sitting::start(&learner, &enrolment, &lesson.lesson_id).await?;
    setup(
        "the learner's first heartbeat",
        sitting.beat(&learner).await,
    )?;
    let playback_id = sitting.playback.playback_id.clone();
    let supervisor = Auth::Bearer(&token);
    let (mut attempted, mut refused) = (0, 0);
    let mut answers = false;
    let mut stop = None;
    for op in OPERATIONS
        .iter()
        .filter(|o| o.security == Security::Learner && o.method == Method::Post)
    {
        let what = format!(
            "a supervisor's {} (POST {}) is refused for authority",
            op.id, op.path
        );
        let json = |v: serde_json::Value| Some(v.to_string().into_bytes());
        match op.id {
            "answerPopup" | "uploadCapture" => answers = true,
            "stopPlayback" => stop = Some((op, what)),
            "logout" => {
                let answer = fx.client.send_raw(op, &[], supervisor, None).await;
                attempted += 1;
                refused += usize::from(j.expect_denied_raw(&what, &answer, NOT_YOURS));
                let me = fx.client.get_me(&learner_token).await;
                j.expect_ok("after it, the learner's session still works", &me);
            }
            "enrol" => {
                let count = || async {
                    fx.client
                        .list_enrolments(&learner_token)
                        .await
                        .map(|l| l.enrolments.len())
                        .ok()
                };
                let before = count().await;
                let body = json(serde_json::json!({"class_id": fx.class.class_id}));
                let answer = fx.client.send_raw(op, &[], supervisor, body).await;
                attempted += 1;
                refused += usize::from(j.expect_denied_raw(&what, &answer, NOT_YOURS));
                let after = count().await;
                j.check(
                    "after it, the learner's enrolments are unchanged",
                    before.is_some() && before == after,
                    format!("{before:?} before, {after:?} after"),
                );
            }
            "startPlayback" => {
                let body = json(serde_json::json!({
                    "enrolment_id": enrolment, "lesson_id": lesson.lesson_id
                }));
                let answer = fx.client.send_raw(op, &[], supervisor, body).await;
                attempted += 1;
                refused += usize::from(j.expect_denied_raw(&what, &answer, NOT_YOURS));
                sitting.plays_on(j, &learner).await;
            }
            "heartbeat" => {
                let ahead = sitting.position() + 300.0;
                let body = json(serde_json::json!({
                    "position_seconds": ahead, "rate": 1.0, "focused": true
                }));
                let answer = fx
                    .client
                    .send_raw(op, &[&playback_id], supervisor, body)
                    .await;
                attempted += 1;
                refused += usize::from(j.expect_denied_raw(&what, &answer, NOT_YOURS));
                sitting.plays_on(j, &learner).await;
                j.check(
                    "after it, the learner's position did not jump",
                    sitting.position() < ahead - 200.0,
                    format!("accepted position {:.0} s", sitting.position()),
                );
            }
            _ => {
                let args: Vec<&str> = op
                    .parameters()
                    .iter()
                    .map(|_| playback_id.as_str())
                    .collect();
                let answer = fx
                    .client
                    .send_raw(op, &args, supervisor, json(serde_json::json!({})))
                    .await;
                attempted += 1;
                refused += usize::from(j.expect_denied_raw(&what, &answer, NOT_YOURS));
            }
        }
    }
    // The learner's own popup and capture: answered first by the supervisor, then by the learner.
    if answers {
        let budget = f64::from(lesson.minutes) * 60.0 + 60.0;
        let (tried, denied) = sitting
            .events_answered_by(
                j,
                &mut learner,
                "a supervisor",
                &token,
                NOT_YOURS,
                budget,
                max_gap,
            )
            .await?;
        attempted += tried;
        refused += denied;
    }
    if let Some((op, what)) = stop {
        let answer = fx
            .client
            .send_raw(op, &[&playback_id], supervisor, None)
            .await;
        attempted += 1;
        refused += usize::from(j.expect_denied_raw(&what, &answer, NOT_YOURS));
        sitting.plays_on(j, &learner).await;
    }

    // Write methods on every supervision resource: refused, or no such method.
    let record_before = setup(
        "read the learner's record",
        fx.client.get_learner(&token, &learner_id).await,
    )?;
    for op in OPERATIONS
        .iter()
        .filter(|o| o.security == Security::Supervisor && o.method == Method::Get)
    {
        let args: Vec<&str> = op
            .parameters()
            .iter()
            .map(|p| match *p {
                "learner_id" => learner_id.as_str(),
                "image_id" => record_before.face_image_id.as_str(),
                "class_id" => fx.class.class_id.as_str(),
                _ => "duxue-probe-id",
            })
            .collect();
        let path = op.fill(&args);
        for method in ["POST", "PUT", "DELETE"] {
            let answer = fx
                .client
                .send_method(op.id, method, &path, supervisor, Some(b"{}".to_vec()))
                .await;
            attempted += 1;
            refused += usize::from(j.expect_denied_raw(
                &format!("{method} {} by a supervisor is refused", op.path),
                &answer,
                &[401, 403, 405],
            ));
        }
    }
    let record_after = fx.client.get_learner(&token, &learner_id).await;
    j.check(
        "after them, the learner's record is unchanged",
        record_after.as_ref().ok() == Some(&record_before),
        "registration record compared",
    );
    j.figure("writes_attempted", attempted);
    j.figure("writes_refused", refused);
    sitting.stop(&learner).await;
    Ok(())
}

/// SV-5: 抓拍和活体检测结果连同影像可供调阅.
pub async fn captures_and_liveness_retrievable(
    ctx: &ProbeContext,
    j: &mut Judge,
) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "SV-5", 1.0, &CourseShape::pure_online(10, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let token = fx.authority().await?;
    let mut learner = fx.learner();
    setup("register", learner.register().await.map(|_| ()))?;
    let refused_attempt = learner
        .login_as(Presentation::Attack(duxue_media::Species::Print))
        .await
        .map(|_| ());
    let refused_attempt_made = matches!(&refused_attempt, Err(e) if e.is_refusal());
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

/// SV-6: 平台应具备针对学员学习轨迹进行合规性自查功能，判断是否有刷课行为 — every course-brushing
/// learner of a shuffled cast is flagged (several of each cheat, honest learners among them,
/// in no order and with no label that tells them apart), and so is a learner who studies round
/// the clock (short sittings in every hour of one day, the cohort clock advanced between them,
/// each sitting as a person would play it); honest learners, also those who study at a few
/// hours of a day, are not.
pub async fn self_check_flags_brushing(
    ctx: &ProbeContext,
    j: &mut Judge,
) -> Result<(), ProbeError> {
    let per = ctx.policy.judging.self_check_learners_per_behaviour.value as usize;
    let mut cast: Vec<Behaviour> = CAST_CHEATS
        .iter()
        .flat_map(|b| std::iter::repeat_n(*b, per))
        .chain(std::iter::repeat_n(Behaviour::Honest, 3 * per))
        .collect();
    cast.shuffle(&mut crate::seeds::rng(ctx.seed, "SV-6 cast"));
    let fx = Fixture::new(ctx, "SV-6", 0.5, &CourseShape::pure_online(20, 3)).await?;
    // The round-the-clock learners live in a cohort of their own, whose clock they advance
    // (their own seed too: they are other people).
    let day_ctx = ProbeContext {
        seed: crate::seeds::named(ctx.seed, "round the clock"),
        ..ctx.clone()
    };
    let day = Fixture::new(&day_ctx, "SV-6", 1.0, &CourseShape::pure_online(45, 3)).await?;
    let (played, days) = tokio::join!(play_cast(&fx, &cast), study_round_the_clock(&day, per));
    let (played, days) = (played?, days?);

    let mut reports = Vec::new();
    for world in [&fx, &day] {
        let token = world.authority().await?;
        reports.push(setup("self-check", world.client.self_check(&token).await)?);
    }
    let signals_of = |id: &str| -> Option<Vec<String>> {
        reports
            .iter()
            .flat_map(|r| r.flagged.iter())
            .find(|f| f.learner_id == id)
            .map(|f| {
                f.signals
                    .iter()
                    .map(|s| format!("{}: {}", s.kind, s.detail))
                    .collect()
            })
    };
    // An honest learner whose genuine liveness answer the platform refused (and who then got
    // in on a retry) may rightly be flagged for that refusal and for nothing else.
    let flagged_for_its_refusal = |id: &str, learner: &SimLearner| -> bool {
        learner.genuine_refusals > 0
            && reports
                .iter()
                .flat_map(|r| r.flagged.iter())
                .filter(|f| f.learner_id == id)
                .flat_map(|f| f.signals.iter())
                .all(|s| s.kind == "failed_liveness")
    };
    let mut honest = 0;
    let mut honest_flagged = Vec::new();
    let mut flagged_after_refusal = 0;
    let mut count_honest = |id: &str, learner: &SimLearner| {
        honest += 1;
        let signals = signals_of(id);
        if signals.is_some() && flagged_for_its_refusal(id, learner) {
            flagged_after_refusal += 1;
        } else {
            honest_flagged.extend(signals.map(|s| s.join(", ")));
        }
    };
    let mut cheats_flagged = 0;
    for (behaviour, learner, log) in &played {
        let id = learner.learner_id()?;
        if !behaviour.is_cheat() {
            count_honest(id, learner);
            continue;
        }
        let signals = signals_of(id);
        let name = format!(
            "a {} learner is flagged",
            crate::population::behaviour_name(*behaviour)
        );
        match cheat_shown(*behaviour, log) {
            Err(why) => j.undecided(name, why),
            Ok(()) => {
                cheats_flagged += usize::from(signals.is_some());
                j.check(
                    name,
                    signals.is_some(),
                    signals.map_or("not flagged".into(), |s| format!("signals {s:?}")),
                );
            }
        }
    }
    for (round_the_clock, learner, hours) in &days {
        let id = learner.learner_id()?;
        if !round_the_clock {
            count_honest(id, learner);
            continue;
        }
        let signals = signals_of(id);
        let name = "a learner who studies round the clock is flagged";
        if *hours < ROUND_THE_CLOCK_HOURS {
            j.undecided(
                name,
                format!(
                    "it studied in only {hours} hours of the day (the platform refused the others)"
                ),
            );
            continue;
        }
        cheats_flagged += usize::from(signals.is_some());
        j.check(
            name,
            signals.is_some(),
            signals.map_or(
                format!("not flagged after study in {hours} hours of one day"),
                |s| format!("signals {s:?}"),
            ),
        );
    }
    let share = honest_flagged.len() as f64 / honest.max(1) as f64;
    let bound = ctx.policy.judging.self_check_honest_flag_share_max.value;
    j.figure(
        "learners_checked",
        reports.iter().map(|r| r.learners_checked).sum::<u64>(),
    );
    j.figure("cast", played.len() + days.len());
    j.figure("cheats_flagged", cheats_flagged);
    j.figure("honest", honest);
    j.figure("honest_flagged", honest_flagged.len());
    j.figure(
        "honest_flagged_for_a_refused_genuine_login",
        flagged_after_refusal,
    );
    // The cast is far too small to bound an honest flag rate by the policy's share (that takes
    // 59 honest learners none of whom is flagged); the honest learners here study plainly, so
    // a share over the policy's among them is a self-check that flags people, and the bound on
    // the rate is stated beside it.
    let upper = crate::stats::upper_bound_95(honest_flagged.len(), honest);
    j.figure(
        "honest_flag_rate_upper_95",
        (upper * 10_000.0).round() / 10_000.0,
    );
    j.check(
        "honest learners are not flagged beyond the policy's share",
        share <= bound,
        format!(
            "{} of {honest} honest learners flagged (at most {:.0}%; one-sided 95% upper bound on \
             the rate of flagging honest learners {:.1}% at n = {honest}){}",
            honest_flagged.len(),
            bound * 100.0,
            upper * 100.0,
            if honest_flagged.is_empty() {
                String::new()
            } else {
                format!(", for {}", honest_flagged.join("; "))
            }
        ),
    );
    Ok(())
}

/// The cheats of SV-6's cast, each played by several learners.
const CAST_CHEATS: [Behaviour; 4] = [
    Behaviour::PopupAutoClicker,
    Behaviour::OtherPersonSpoofer,
    Behaviour::Seeker,
    Behaviour::Speeder4,
];

/// Hours of one day a round-the-clock learner must have studied in for its check to count.
const ROUND_THE_CLOCK_HOURS: usize = 22;

/// Plays the cast: each learner one lesson in its style, all at once.
async fn play_cast(
    fx: &Fixture,
    cast: &[Behaviour],
) -> Result<Vec<(Behaviour, SimLearner, StudyLog)>, ProbeError> {
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let learners = fx.enrolled_learners(cast.len()).await?;
    let runs = cast
        .iter()
        .zip(learners)
        .map(|(behaviour, (mut learner, enrolment))| {
            let plan = behaviour.plan(&enrolment, &lesson, 1_300.0);
            async move {
                let log = learner.study(&plan).await?;
                Ok::<_, ProbeError>((*behaviour, learner, log))
            }
        });
    futures::future::try_join_all(runs).await
}

/// Whether the platform was shown the cheat at all (a stand-in needs a capture request to be
/// seen, an auto-clicker a popup); a cheat never shown cannot be flagged, so its check is
/// undecided rather than failed.
fn cheat_shown(behaviour: Behaviour, log: &StudyLog) -> Result<(), String> {
    match behaviour {
        Behaviour::OtherPersonSpoofer if !log.captures().any(|c| c.image_sha256.is_some()) => {
            Err("no capture was requested, so the stand-in was never shown to the platform".into())
        }
        Behaviour::PopupAutoClicker if !log.popups().any(|p| p.answered) => {
            Err("no popup came for the auto-clicker to answer".into())
        }
        // A cheat refused as it was tried (a speed-up's heartbeats) was shown all the same.
        _ if log.acks < 3 && log.refusals.is_empty() => Err(format!(
            "it barely played ({} heartbeats answered)",
            log.acks
        )),
        _ => Ok(()),
    }
}

/// One short sitting in every hour of one day (China time) for `per` learners, studying as
/// people do; two honest learners sit at a few hours of the same day. Returns each learner
/// (whether it studied round the clock) with the hours it was credited study in.
async fn study_round_the_clock(
    fx: &Fixture,
    per: usize,
) -> Result<Vec<(bool, SimLearner, usize)>, ProbeError> {
    const SITTING_SECONDS: f64 = 60.0;
    const DAY_HOURS: [&[u32]; 2] = [&[8, 9, 14, 20], &[7, 12, 19, 21]];
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let mut learners: Vec<(bool, SimLearner, String, usize)> = Vec::new();
    for (learner, enrolment) in fx.enrolled_learners(per + DAY_HOURS.len()).await? {
        let bot = learners.len() < per;
        learners.push((bot, learner, enrolment, 0));
    }
    // To five minutes past the next midnight, China time.
    let local = fx.clock.now().timestamp() + 8 * 3_600;
    let to_midnight = 86_400 - local.rem_euclid(86_400) + 300;
    fx.advance(to_midnight as f64).await?;
    let day_start = fx.clock.now();
    for hour in 0..24u32 {
        let sittings = learners.iter_mut().enumerate().filter_map(|(i, entry)| {
            let (bot, learner, enrolment, studied) = entry;
            let person = i.checked_sub(per).map(|p| DAY_HOURS[p % DAY_HOURS.len()]);
            let sits = *bot || person.is_some_and(|hours| hours.contains(&hour));
            sits.then(|| {
                let plan = StudyPlan {
                    until_complete: false,
                    ..StudyPlan::honest(enrolment, &lesson, SITTING_SECONDS)
                };
                async move {
                    let log = sit(learner, &plan).await?;
                    *studied += usize::from(log.acks >= 2 && log.credited > 0.0);
                    Ok::<_, ProbeError>(())
                }
            })
        });
        futures::future::try_join_all(sittings).await?;
        let next = day_start + chrono::TimeDelta::hours(i64::from(hour) + 1);
        let wait = (next - fx.clock.now()).num_milliseconds() as f64 / 1e3;
        if wait > 0.0 {
            fx.advance(wait).await?;
        }
    }
    Ok(learners
        .into_iter()
        .map(|(bot, learner, _, studied)| (bot, learner, studied))
        .collect())
}

/// One sitting; a session that lapsed since the last one is opened again (liveness and all).
async fn sit(learner: &mut SimLearner, plan: &StudyPlan) -> Result<StudyLog, ProbeError> {
    let log = learner.study(plan).await?;
    let lapsed = matches!(
        log.start_refused,
        Some(ErrorCode::Unauthorized | ErrorCode::SessionRevoked)
    );
    if lapsed {
        learner.login().await?;
        return learner.study(plan).await;
    }
    Ok(log)
}

/// SV-7: 当班结业信息与已计学时一致.
pub async fn completion_export_agrees(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "SV-7", 1.0, &CourseShape::pure_online(10, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let token = fx.authority().await?;
    let [(mut honest, e0), (mut impostor, e1)] = fx.enrolled_trial().await?;
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
    let token = fx.authority().await?;
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
