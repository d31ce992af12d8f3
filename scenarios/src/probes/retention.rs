//! §五(二) 具备相关信息至少3年以上的储存条件: every record and image survives the retention period,
//! on a cohort clock read back after the jump.

use super::setup;
use crate::context::ProbeContext;
use crate::fixture::{CourseShape, Fixture};
use crate::learner::{StudyPlan, sha256};
use crate::outcome::{Judge, ProbeError};

/// RT-1: every record and image is retrievable unchanged just before the retention period ends.
pub async fn three_year_retention(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "RT-1", 1.0, &CourseShape::pure_online(10, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let (mut learner, enrolment) = fx.enrolled_learner().await?;
    let log = learner
        .study(&StudyPlan::honest(&enrolment, &lesson, 900.0))
        .await?;
    let learner_id = learner.learner_id()?.to_owned();
    let token = fx.authority().await?;

    let snapshot = |token: String| {
        let client = fx.client.clone();
        let learner_id = learner_id.clone();
        let class_id = fx.class.class_id.clone();
        async move {
            let record = client.get_learner(&token, &learner_id).await?;
            let captures = client.list_captures(&token, &learner_id).await?;
            let liveness = client.list_liveness(&token, &learner_id).await?;
            let trajectory = client.get_trajectory(&token, &learner_id).await?;
            let export = client.export_completion(&token, &class_id).await?;
            let mut images = vec![
                record.face_image_id.clone(),
                record.id_card_image_id.clone(),
            ];
            images.extend(captures.captures.iter().filter_map(|c| c.image_id.clone()));
            images.extend(
                liveness
                    .attempts
                    .iter()
                    .flat_map(|a| a.frame_image_ids.iter().cloned()),
            );
            let mut hashes = Vec::new();
            for id in &images {
                hashes.push((id.clone(), sha256(&client.get_image(&token, id).await?)));
            }
            let credited = export
                .learners
                .iter()
                .find(|l| l.learner_id == learner_id)
                .map(|l| l.credited_seconds);
            Ok::<_, duxue_profile::ClientError>((
                record,
                captures.captures.len(),
                liveness.attempts.len(),
                trajectory.events.len(),
                credited,
                hashes,
            ))
        }
    };
    let before = setup("records before the jump", snapshot(token).await)?;
    j.figure("images", before.5.len());
    j.figure("trajectory_events", before.3);
    j.figure("captures", before.1);
    if before.1 == 0 || log.acks == 0 {
        j.undecided("study records", "the learner produced no capture to keep");
    }

    let years = ctx.policy.rules.retention_years.value;
    let jump = f64::from(years) * 365.25 * 86_400.0 - 2.0 * 86_400.0;
    let moved = fx.advance_read_back(jump).await?;
    j.figure("advanced_days", (jump / 86_400.0).round());
    j.figure("clock_moved_days", (moved / 86_400.0 * 10.0).round() / 10.0);
    // Records kept across a jump the clock never made prove nothing about retention.
    j.check(
        "the cohort clock, read back, shows the whole jump",
        moved >= jump - 1.0,
        format!(
            "the clock moved {:.1} days of the {:.1} asked",
            moved / 86_400.0,
            jump / 86_400.0
        ),
    );
    let token = fx.authority().await?;
    let after = snapshot(token).await;
    let after = match after {
        Ok(after) => after,
        Err(e) => {
            j.check(
                format!("records are still retrievable {years} years later (less two days)"),
                !e.is_refusal(),
                e.to_string(),
            );
            if !e.is_refusal() {
                j.undecided("records after the jump", e.to_string());
            }
            return Ok(());
        }
    };
    j.check(
        "the learner record is unchanged",
        before.0 == after.0,
        "registration record compared",
    );
    j.check(
        "every capture record is kept",
        after.1 >= before.1,
        format!("{} before, {} after", before.1, after.1),
    );
    j.check(
        "every liveness record is kept",
        after.2 >= before.2,
        format!("{} before, {} after", before.2, after.2),
    );
    j.check(
        "the trajectory is kept",
        after.3 >= before.3,
        format!("{} events before, {} after", before.3, after.3),
    );
    j.check(
        "the completion export still credits the learner",
        before.4 == after.4,
        format!("{:?} before, {:?} after", before.4, after.4),
    );
    let changed: Vec<&String> = before
        .5
        .iter()
        .filter(|(id, hash)| !after.5.iter().any(|(i, h)| i == id && h == hash))
        .map(|(id, _)| id)
        .collect();
    j.check(
        "every image is retrievable byte for byte",
        changed.is_empty(),
        format!(
            "{} of {} images changed or missing",
            changed.len(),
            before.5.len()
        ),
    );
    Ok(())
}
