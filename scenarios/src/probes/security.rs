//! Security of the profile itself: HTTPS off loopback, tokens checked on every learner and
//! supervisor operation, learners isolated from each other, conformance endpoints locked.

use std::net::IpAddr;

use duxue_profile::{Auth, ErrorCode, OPERATIONS, Operation, Security, UrlHost, url_host};

use super::setup;
use super::sitting::Sitting;
use crate::context::ProbeContext;
use crate::fixture::{CourseShape, Fixture};
use crate::learner::StudyPlan;
use crate::outcome::{Judge, ProbeError};

/// Whether an address is this machine's loopback: 127.0.0.0/8, `::1`, or `::ffff:127.x.y.z`.
pub fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Whether a target is on loopback. The address a connection to it actually reached decides
/// (`reached`: a name that resolves to loopback is loopback, one that resolves elsewhere is
/// not, whatever it is called). Without a connection the URL alone: an address in any
/// spelling a browser accepts, or a `localhost` name (RFC 6761), is decided; any other name is
/// not known (`None`). User information before `@` is not the host.
pub fn is_loopback_target(url: &str, reached: Option<IpAddr>) -> Option<bool> {
    if let Some(ip) = reached {
        return Some(is_loopback_ip(ip));
    }
    match url_host(url)? {
        UrlHost::Ip(ip) => Some(is_loopback_ip(ip)),
        UrlHost::Name(name) if name == "localhost" || name.ends_with(".localhost") => Some(true),
        UrlHost::Name(_) => None,
    }
}

/// SC-1: HTTPS for any non-loopback target.
pub async fn https_off_loopback(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let url = ctx.target_url.to_ascii_lowercase();
    let Some(meta) = duxue_profile::operation("getMeta") else {
        return Err(ProbeError::setup("getMeta is not in the operation table"));
    };
    let answer = ctx.client.send_raw(meta, &[], Auth::Anonymous, None).await;
    let reached = answer
        .as_ref()
        .ok()
        .and_then(|a| a.remote_addr)
        .map(|addr| addr.ip());
    if url.starts_with("https://") {
        let meta = answer.and_then(|a| {
            duxue_profile::client::decode_answer::<duxue_profile::PlatformMeta>(meta, a)
        });
        j.expect_ok("the target answers over HTTPS", &meta.map(|_| ()));
        return Ok(());
    }
    judge_plain_http(
        j,
        &ctx.target_url,
        reached,
        answer.err().map(|e| e.to_string()),
    );
    Ok(())
}

/// SC-1 for a target reached over plain HTTP (`reached`: the address the connection reached):
/// SKIPPED on loopback, a FAIL off it, undecided when neither the URL nor the connection says
/// which (`error`: the connection's, if it failed).
pub fn judge_plain_http(
    j: &mut Judge,
    target_url: &str,
    reached: Option<IpAddr>,
    error: Option<String>,
) {
    let shown = match reached {
        Some(ip) => format!("{target_url} (reached at {ip})"),
        None => target_url.to_owned(),
    };
    match is_loopback_target(&target_url.to_ascii_lowercase(), reached) {
        Some(true) => j.skip(format!(
            "the target {shown} is on loopback; HTTPS is required only off this machine"
        )),
        Some(false) => {
            j.check(
                "a non-loopback target is reached over HTTPS",
                false,
                format!("plain HTTP to {shown}"),
            );
        }
        None => j.undecided(
            "whether the target is on loopback",
            error.unwrap_or_else(|| {
                format!("{shown}: the connection did not say which address it reached")
            }),
        ),
    }
}

fn sample_body(op: &Operation, ids: &Ids) -> Option<Vec<u8>> {
    let body = match op.request? {
        "HeartbeatRequest" => {
            serde_json::json!({"position_seconds": 0.0, "rate": 1.0, "focused": true})
        }
        "PopupAnswer" => serde_json::json!({"answer": "0000"}),
        "CaptureUpload" => serde_json::json!({"image": "AAAA"}),
        "EnrolmentRequest" => serde_json::json!({"class_id": ids.class_id}),
        "PlaybackRequest" => {
            serde_json::json!({"enrolment_id": ids.enrolment_id, "lesson_id": ids.lesson_id})
        }
        "CohortRequest" => serde_json::json!({"label": "duxue security probe", "clock_scale": 1.0}),
        "ClockAdvance" => serde_json::json!({"seconds": 1.0}),
        "OrganisationRequest" => {
            serde_json::json!({"cohort_id": ids.cohort_id, "name": "x", "kind": "enterprise"})
        }
        "ClassRequest" => {
            serde_json::json!({"course_id": ids.course_id, "organiser_id": ids.organisation_id, "name": "x"})
        }
        "AssessmentRequest" => {
            serde_json::json!({"enrolment_id": ids.enrolment_id, "result": "passed"})
        }
        "SupervisorRequest" => serde_json::json!({"cohort_id": ids.cohort_id, "kind": "authority"}),
        _ => serde_json::json!({}),
    };
    Some(body.to_string().into_bytes())
}

struct Ids {
    cohort_id: String,
    organisation_id: String,
    course_id: String,
    class_id: String,
    enrolment_id: String,
    lesson_id: String,
    learner_id: String,
    playback_id: String,
}

impl Ids {
    fn for_parameter(&self, name: &str) -> &str {
        match name {
            "cohort_id" => &self.cohort_id,
            "enrolment_id" => &self.enrolment_id,
            "playback_id" => &self.playback_id,
            "learner_id" => &self.learner_id,
            "class_id" => &self.class_id,
            _ => "duxue-probe-id",
        }
    }
}

async fn world(
    ctx: &ProbeContext,
    fx: &Fixture,
) -> Result<(crate::learner::SimLearner, Ids), ProbeError> {
    let (mut learner, enrolment) = fx.enrolled_learner().await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let log = learner
        .study(&StudyPlan {
            until_complete: false,
            ..StudyPlan::honest(&enrolment, &lesson, 20.0)
        })
        .await?;
    let _ = ctx;
    let ids = Ids {
        cohort_id: fx.cohort.cohort_id.clone(),
        organisation_id: fx.enterprise.organisation_id.clone(),
        course_id: fx.course.course_id.clone(),
        class_id: fx.class.class_id.clone(),
        enrolment_id: enrolment,
        lesson_id: lesson,
        learner_id: learner.learner_id()?.to_owned(),
        playback_id: log.playback.map(|p| p.playback_id).unwrap_or_default(),
    };
    Ok((learner, ids))
}

async fn expect_unauthorised(
    j: &mut Judge,
    ctx: &ProbeContext,
    op: &'static Operation,
    ids: &Ids,
    auth: Auth<'_>,
    what: &str,
) -> bool {
    let args: Vec<&str> = op
        .parameters()
        .iter()
        .map(|p| ids.for_parameter(p))
        .collect();
    match ctx
        .client
        .send_raw(op, &args, auth, sample_body(op, ids))
        .await
    {
        Ok(answer) => {
            let name = format!(
                "{} {} refuses {what}",
                op.method.as_str().to_uppercase(),
                op.path
            );
            if answer.status < 300 {
                return j.check(name, false, format!("HTTP {}", answer.status));
            }
            let error = answer.failure(op.id);
            // 401 is the credential refused, whatever the code says; 403 only as `forbidden`.
            let credential_refused = error.is_refusal()
                && (error.status() == Some(401) || error.is_with(403, &[ErrorCode::Forbidden]));
            if credential_refused {
                j.check(name, true, error.to_string())
            } else if error.is_refusal() {
                // A refusal for another reason (a bad parameter) did not judge the token.
                j.check(name, false, error.to_string())
            } else {
                j.undecided(name, error.to_string());
                false
            }
        }
        Err(e) => {
            j.undecided(format!("{} with {what}", op.id), e.to_string());
            false
        }
    }
}

/// SC-2: every learner and supervisor operation refuses missing, invalid and revoked tokens.
pub async fn tokens_checked(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "SC-2", 1.0, &CourseShape::pure_online(8, 3)).await?;
    let (learner, ids) = world(ctx, &fx).await?;
    let revoked = learner.token()?.to_owned();
    setup("logout", fx.client.logout(&revoked).await)?;
    let forged = "duxue-forged-token-9f8e7d6c5b4a39281706f5e4d3c2b1a0";
    let mut checked = 0;
    let mut refused = 0;
    for op in OPERATIONS
        .iter()
        .filter(|o| matches!(o.security, Security::Learner | Security::Supervisor))
    {
        for (auth, what) in [
            (Auth::Anonymous, "a missing token"),
            (Auth::Bearer(forged), "a forged token"),
            (Auth::Bearer(&revoked), "a logged-out token"),
        ] {
            checked += 1;
            refused += usize::from(expect_unauthorised(j, ctx, op, &ids, auth, what).await);
        }
    }
    j.figure("requests", checked);
    j.figure("refused", refused);
    Ok(())
}

/// SC-3: a learner cannot read or act on another learner's data: not on the victim's live
/// playback (the victim's state read back after each attempt), not on its enrolment, and not
/// through any supervision operation with a learner's token.
pub async fn learners_isolated(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    const OTHERS: &[u16] = &[403, 404];
    let fx = Fixture::new(ctx, "SC-3", 1.0, &CourseShape::pure_online(8, 3)).await?;
    let lesson = fx.lesson(0)?.clone();
    let max_gap = f64::from(ctx.policy.rules.heartbeat_max_gap_seconds.value);
    let (mut victim, victim_enrolment) = fx.enrolled_learner().await?;
    let (intruder, own_enrolment) = fx.enrolled_learner().await?;
    let token = intruder.token()?.to_owned();
    let mut sitting = Sitting::start(&victim, &victim_enrolment, &lesson.lesson_id).await?;
    setup("the victim's first heartbeat", sitting.beat(&victim).await)?;
    let playback_id = sitting.playback.playback_id.clone();

    let progress = fx.client.get_progress(&token, &victim_enrolment).await;
    j.expect_denied("another learner's progress is refused", &progress, OTHERS);

    let ahead = sitting.position() + 300.0;
    let beat = duxue_profile::HeartbeatRequest {
        position_seconds: ahead,
        rate: 1.0,
        focused: true,
        client_time: None,
    };
    let heartbeat = fx.client.heartbeat(&token, &playback_id, &beat).await;
    j.expect_denied(
        "a heartbeat on another learner's live playback is refused",
        &heartbeat,
        OTHERS,
    );
    sitting.plays_on(j, &victim).await;
    j.check(
        "after it, the victim's position did not jump",
        sitting.position() < ahead - 200.0,
        format!("accepted position {:.0} s", sitting.position()),
    );

    let start = fx
        .client
        .start_playback(
            &token,
            &duxue_profile::PlaybackRequest {
                enrolment_id: victim_enrolment.clone(),
                lesson_id: lesson.lesson_id.clone(),
            },
        )
        .await;
    j.expect_denied(
        "playing on another learner's enrolment is refused",
        &start,
        OTHERS,
    );
    sitting.plays_on(j, &victim).await;

    let budget = f64::from(lesson.minutes) * 60.0 + 60.0;
    sitting
        .events_answered_by(
            j,
            &mut victim,
            "another learner",
            &token,
            OTHERS,
            budget,
            max_gap,
        )
        .await?;

    let stop = fx.client.stop_playback(&token, &playback_id).await;
    j.expect_denied(
        "stopping another learner's live playback is refused",
        &stop,
        OTHERS,
    );
    sitting.plays_on(j, &victim).await;

    // A learner's token opens no supervision operation (they show every learner's data).
    let authority = fx.authority().await?;
    let victim_id = victim.learner_id()?.to_owned();
    let record = setup(
        "the authority reads the victim",
        fx.client.get_learner(&authority, &victim_id).await,
    )?;
    for op in OPERATIONS
        .iter()
        .filter(|o| o.security == Security::Supervisor)
    {
        let args: Vec<&str> = op
            .parameters()
            .iter()
            .map(|p| match *p {
                "learner_id" => victim_id.as_str(),
                "image_id" => record.face_image_id.as_str(),
                "class_id" => fx.class.class_id.as_str(),
                _ => "duxue-probe-id",
            })
            .collect();
        let answer = fx
            .client
            .send_raw(op, &args, Auth::Bearer(&token), None)
            .await;
        j.expect_denied_raw(
            &format!(
                "{} {} refuses a learner's token",
                op.method.as_str().to_uppercase(),
                op.path
            ),
            &answer,
            &[401, 403],
        );
    }

    let own = fx.client.get_progress(&token, &own_enrolment).await;
    j.expect_ok("the learner's own progress is shown", &own);
    sitting.stop(&victim).await;
    Ok(())
}

/// SC-4: conformance operations refuse requests without the conformance token.
pub async fn conformance_token_required(
    ctx: &ProbeContext,
    j: &mut Judge,
) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "SC-4", 1.0, &CourseShape::pure_online(8, 3)).await?;
    let (_learner, ids) = world(ctx, &fx).await?;
    let mut refused = 0;
    let mut checked = 0;
    for op in OPERATIONS
        .iter()
        .filter(|o| o.security == Security::Conformance)
    {
        for (auth, what) in [
            (Auth::Anonymous, "no conformance token"),
            (
                Auth::ConformanceToken("duxue-wrong-conformance-token"),
                "a wrong conformance token",
            ),
        ] {
            checked += 1;
            refused += usize::from(expect_unauthorised(j, ctx, op, &ids, auth, what).await);
        }
    }
    j.figure("requests", checked);
    j.figure("refused", refused);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    #[test]
    fn the_url_alone_decides_addresses_and_localhost_names_only() {
        let cases = [
            ("http://127.0.0.1:8080", Some(true)),
            ("http://127.0.0.2", Some(true)),
            ("http://127.255.255.254:1", Some(true)),
            ("http://[::1]:8080/", Some(true)),
            ("http://[::ffff:127.0.0.1]", Some(true)),
            ("http://localhost", Some(true)),
            ("http://LOCALHOST:80", Some(true)),
            ("http://api.localhost", Some(true)),
            // Spellings of 127.0.0.1 a URL parser accepts.
            ("http://127.1", Some(true)),
            ("http://0x7f.0.0.1", Some(true)),
            ("http://2130706433", Some(true)),
            // User information is not the host.
            ("http://localhost:80@example.com", None),
            ("http://127.0.0.1@192.0.2.7", Some(false)),
            ("http://user:pw@[::1]:9", Some(true)),
            ("http://192.0.2.7", Some(false)),
            ("http://10.0.0.1:8080", Some(false)),
            ("http://[fd00::2]", Some(false)),
            ("http://0.0.0.0", Some(false)),
            ("http://localhost.example.com", None),
            ("http://platform.example.cn", None),
            ("not a url", None),
        ];
        for (url, expected) in cases {
            assert_eq!(is_loopback_target(url, None), expected, "{url}");
        }
    }

    #[test]
    fn the_address_reached_decides_a_name() {
        let loopback = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 53)));
        let elsewhere = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
        // A name that resolves to loopback (an /etc/hosts entry, an injected resolver) is.
        assert_eq!(
            is_loopback_target("http://platform.test:8080", loopback),
            Some(true)
        );
        // `localhost` that resolves elsewhere is not, and user information changes nothing.
        assert_eq!(
            is_loopback_target("http://localhost", elsewhere),
            Some(false)
        );
        assert_eq!(
            is_loopback_target("http://localhost:80@example.com", elsewhere),
            Some(false)
        );
        assert_eq!(
            is_loopback_target("http://[::1]", Some("::1".parse().expect("ip"))),
            Some(true)
        );
    }
}
