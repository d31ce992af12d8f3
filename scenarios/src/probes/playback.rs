//! §三 and §五(二) playback controls: no seeking, no speed-up, no multi-window, an attention
//! popup at least every five minutes, no idle credit, professional lessons in order.

use duxue_profile::{ErrorCode, LessonCategory, LessonMode};

use super::{check_honest_credited, check_not_overcredited, study_figures};
use crate::behaviour::Behaviour;
use crate::context::ProbeContext;
use crate::fixture::{CourseShape, Fixture};
use crate::learner::{CaptureStyle, StudyPlan, TwoWindows, two_windows};
use crate::outcome::{Judge, ProbeError};

/// PB-1: 不允许快进拖拽 — skipped content earns nothing.
pub async fn no_seeking(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "PB-1", 1.0, &CourseShape::pure_online(12, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let [
        (mut honest, honest_enrolment),
        (mut seeker, seeker_enrolment),
    ] = fx.enrolled_learners().await?;
    let honest_plan = StudyPlan::honest(&honest_enrolment, &lesson, 900.0);
    let seeker_plan = Behaviour::Seeker.plan(&seeker_enrolment, &lesson, 420.0);
    let (honest_log, seeker_log) =
        tokio::join!(honest.study(&honest_plan), seeker.study(&seeker_plan));
    let (honest_log, seeker_log) = (honest_log?, seeker_log?);
    study_figures(j, "honest", &honest_log);
    study_figures(j, "seeker", &seeker_log);
    j.figure(
        "seeker.seek_refused",
        seeker_log.refused_with(&ErrorCode::SeekForbidden),
    );
    check_honest_credited(j, ctx, "honest learner", &honest_log);
    check_not_overcredited(j, "a learner who dragged 300 s forward", &seeker_log);
    Ok(())
}

/// PB-2: 不允许倍速播放 — credit never exceeds the elapsed time.
pub async fn no_speed_up(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "PB-2", 1.0, &CourseShape::pure_online(12, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let [(mut honest, e0), (mut double, e2), (mut quad, e4)] = fx.enrolled_learners().await?;
    let plans = [
        StudyPlan::honest(&e0, &lesson, 900.0),
        Behaviour::Speeder2.plan(&e2, &lesson, 300.0),
        Behaviour::Speeder4.plan(&e4, &lesson, 300.0),
    ];
    let (h, d, q) = tokio::join!(
        honest.study(&plans[0]),
        double.study(&plans[1]),
        quad.study(&plans[2])
    );
    let (h, d, q) = (h?, d?, q?);
    study_figures(j, "honest", &h);
    study_figures(j, "speeder_x2", &d);
    study_figures(j, "speeder_x4", &q);
    check_honest_credited(j, ctx, "honest learner", &h);
    for (who, log) in [("a ×2 speeder", &d), ("a ×4 speeder", &q)] {
        check_not_overcredited(j, who, log);
        if log.acks > 0 || !log.refusals.is_empty() {
            let slack = log.credit_slack();
            j.check(
                format!("{who} is credited no more than the elapsed time"),
                log.credited <= log.elapsed + slack,
                format!("credited {:.1} s in {:.1} s", log.credited, log.elapsed),
            );
        }
    }
    Ok(())
}

/// PB-3: 多窗口学习 — one playback at a time per learner, never double credit.
pub async fn no_multi_window(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "PB-3", 1.0, &CourseShape::pure_online(12, 3)).await?;
    let general = fx.lesson(0)?.lesson_id.clone();
    let professional = fx.lesson(1)?.lesson_id.clone();
    let (mut window_a, enrolment) = fx.enrolled_learner().await?;
    let mut window_b = window_a.twin();
    let budget = 300.0;
    let plan_a = StudyPlan {
        until_complete: false,
        ..StudyPlan::honest(&enrolment, &general, budget)
    };
    let plan_b = StudyPlan {
        until_complete: false,
        ..StudyPlan::honest(&enrolment, &professional, budget)
    };
    let started = fx.clock.elapsed();
    let second_window = async {
        // The second window opens a moment after the first.
        fx.clock.sleep(15.0).await;
        window_b.study(&plan_b).await
    };
    let (a, b) = tokio::join!(window_a.study(&plan_a), second_window);
    let (a, b) = (a?, b?);
    let elapsed = fx.clock.elapsed() - started;
    study_figures(j, "window_a", &a);
    study_figures(j, "window_b", &b);
    j.figure(
        "second_window_refused",
        b.start_refused.as_ref().map(ToString::to_string),
    );
    let detail = format!(
        "window A: {} answers, refusals {:?}; window B: start {:?}, {} answers, refusals {:?}",
        a.acks, a.refusals, b.start_refused, b.acks, b.refusals
    );
    match two_windows(&a, &b) {
        TwoWindows::NotOverlapped => j.undecided(
            "two windows never play at once",
            format!("the windows never played at the same time: {detail}"),
        ),
        outcome => {
            j.check(
                "two windows never play at once (the second is refused or the first is stopped)",
                outcome != TwoWindows::BothPlayed,
                detail,
            );
        }
    }
    let total = a.credited + b.credited;
    let slack = a.credit_slack() + b.credit_slack();
    j.figure("total_credited_seconds", super::round(total));
    j.figure("wall_elapsed_cohort_seconds", super::round(elapsed));
    j.check(
        "credit over both windows never exceeds the elapsed time",
        total <= elapsed + slack,
        format!("credited {total:.1} s over two windows in {elapsed:.1} s"),
    );
    Ok(())
}

/// PB-4: 连续5分钟内须有弹窗管控 — a popup at least every five minutes of continuous playback.
pub async fn popup_every_five_minutes(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "PB-4", 1.0, &CourseShape::pure_online(25, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let gap_max = f64::from(ctx.policy.rules.popup_max_gap_seconds.value);
    let mut logs = Vec::new();
    let mut learners = Vec::new();
    for _ in 0..2 {
        learners.push(fx.enrolled_learner().await?);
    }
    let runs = learners.iter_mut().map(|(learner, enrolment)| {
        let plan = StudyPlan::honest(enrolment, &lesson, 1_300.0);
        async move { learner.study(&plan).await }
    });
    for log in futures::future::join_all(runs).await {
        logs.push(log?);
    }
    let mut gaps = Vec::new();
    for log in &logs {
        let start = log.playback.as_ref().map_or(0.0, |p| p.start_position);
        let mut last = start;
        for popup in log.popups() {
            gaps.push(popup.position - last);
            last = popup.position;
        }
        // The tail after the last popup counts once it alone is longer than the bound.
        if log.final_position - last > gap_max {
            gaps.push(log.final_position - last);
        }
    }
    let popups: usize = logs.iter().map(|l| l.popups().count()).sum();
    let played: f64 = logs.iter().map(|l| l.credited).sum();
    j.figure("popups_seen", popups);
    j.figure("playback_seconds", super::round(played));
    let largest = gaps.iter().copied().fold(0.0_f64, f64::max);
    j.figure("largest_gap_seconds", super::round(largest));
    j.figure("gap_bound_seconds", gap_max);
    if popups < 2 && largest <= gap_max {
        j.undecided(
            "popup gaps",
            format!("only {popups} popups in {played:.0} s of playback"),
        );
        return Ok(());
    }
    for (n, log) in logs.iter().enumerate() {
        check_honest_credited(j, ctx, &format!("honest learner {n}"), log);
    }
    // One second of slack for position rounding; the platform must leave its own margin.
    j.check(
        "no stretch of playback longer than the bound goes without a popup",
        largest <= gap_max + 1.0,
        format!("largest gap {largest:.1} s of playback (bound {gap_max:.0} s), {popups} popups"),
    );
    Ok(())
}

/// PB-5: 挂机不计学时 — an unanswered popup or a silent learner stops credit.
pub async fn no_idle_credit(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "PB-5", 1.0, &CourseShape::pure_online(20, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let max_gap = f64::from(ctx.policy.rules.heartbeat_max_gap_seconds.value);
    let [(mut honest, e0), (mut idler, e1), (mut silent, e2)] = fx.enrolled_learners().await?;
    // This idler stays in front of the camera, so captures pass and only popups stand between
    // it and credit: one that also ignored a capture could be stopped by it before any popup
    // came, and the popup check would go undecided.
    let idle_plan = StudyPlan {
        captures: CaptureStyle::Genuine,
        ..Behaviour::Idler.plan(&e1, &lesson, 800.0)
    };
    let silent_plan = StudyPlan {
        silence: Some((120.0, max_gap * 3.0)),
        until_complete: false,
        ..StudyPlan::honest(&e2, &lesson, 600.0)
    };
    let honest_plan = StudyPlan::honest(&e0, &lesson, 1_500.0);
    let (h, i, s) = tokio::join!(
        honest.study(&honest_plan),
        idler.study(&idle_plan),
        silent.study(&silent_plan),
    );
    let (h, i, s) = (h?, i?, s?);
    study_figures(j, "honest", &h);
    study_figures(j, "idler", &i);
    study_figures(j, "silent", &s);
    j.figure("idler.popups_ignored", i.popups().count());
    check_honest_credited(j, ctx, "honest learner", &h);
    if i.popups().count() == 0 {
        j.undecided(
            "idler",
            "no popup reached the idler, so ignoring one could not be tested",
        );
    } else {
        check_not_overcredited(j, "a learner who ignores popups", &i);
    }
    check_not_overcredited(
        j,
        &format!("a learner silent for {:.0} s", max_gap * 3.0),
        &s,
    );
    Ok(())
}

/// PB-6: 专业课程学习按内容先后顺序 — a later professional lesson is locked until earlier ones are done.
pub async fn lessons_in_order(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let shape = CourseShape {
        delivery: duxue_profile::Delivery::PureOnline,
        lessons: vec![
            (5, LessonCategory::General, LessonMode::Online),
            (5, LessonCategory::Professional, LessonMode::Online),
            (5, LessonCategory::Professional, LessonMode::Online),
            (5, LessonCategory::Professional, LessonMode::Online),
        ],
    };
    let fx = Fixture::new(ctx, "PB-6", 1.0, &shape).await?;
    let first = fx.lesson(1)?.lesson_id.clone();
    let second = fx.lesson(2)?.lesson_id.clone();
    let third = fx.lesson(3)?.lesson_id.clone();
    let (mut learner, enrolment) = fx.enrolled_learner().await?;

    let out_of_order = StudyPlan {
        until_complete: false,
        ..StudyPlan::honest(&enrolment, &third, 120.0)
    };
    let skipped = learner.study(&out_of_order).await?;
    j.figure(
        "out_of_order.start_refused",
        skipped.start_refused.as_ref().map(ToString::to_string),
    );
    j.figure(
        "out_of_order.credited_seconds",
        super::round(skipped.credited),
    );
    j.check(
        "the third professional lesson cannot be studied before the first two",
        skipped.start_refused.is_some() || skipped.credited <= 0.0,
        match &skipped.start_refused {
            Some(code) => format!("refused: {code}"),
            None => format!("played and credited {:.1} s", skipped.credited),
        },
    );

    let done = learner
        .study(&StudyPlan::honest(&enrolment, &first, 600.0))
        .await?;
    check_honest_credited(j, ctx, "the first professional lesson", &done);
    let progress = fx.client.get_progress(learner.token()?, &enrolment).await?;
    let completed = progress
        .lessons
        .iter()
        .any(|l| l.lesson_id == first && l.completed);
    if !completed {
        j.undecided(
            "the second professional lesson after the first",
            format!(
                "the first was not completed ({:.0} s credited)",
                done.credited
            ),
        );
        return Ok(());
    }
    let next = learner
        .study(&StudyPlan::honest(&enrolment, &second, 600.0))
        .await?;
    j.check(
        "after the first professional lesson is done, the second can be studied",
        next.start_refused.is_none() && next.acks > 0,
        format!("start {:?}, {} answers", next.start_refused, next.acks),
    );
    Ok(())
}
