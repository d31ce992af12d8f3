//! §三 and §五(二) playback controls: no seeking, no speed-up, no multi-window, an attention
//! popup at least every five minutes, no idle credit, professional lessons in order. Each
//! probe plays every form of the cheats that attack its requirement (`behaviours.toml`), all
//! at once beside an honest control.

use duxue_profile::{ErrorCode, LessonCategory, LessonMode};

use super::{
    check_credit_within, check_heartbeat_interval, check_honest_credited, check_not_overcredited,
    round, study_figures,
};
use crate::behaviour::{Behaviour, Form, SecondWindow, Sitting};
use crate::context::ProbeContext;
use crate::fixture::{CourseShape, Fixture};
use crate::learner::SimLearner;
use crate::outcome::{Judge, ProbeError};
use crate::study::{AnswerKind, PopupStyle, Seek, StudyLog, StudyPlan, TwoWindows, two_windows};

/// Plays `forms` (each by a learner of its own) and an honest control of `honest_budget`
/// cohort seconds, all at once, on lesson `lesson` of `fx`; each form gets `budget`.
async fn play_forms(
    fx: &Fixture,
    lesson: &str,
    forms: &[&'static Form],
    budget: f64,
    honest_budget: f64,
) -> Result<(StudyLog, Vec<(&'static Form, StudyLog)>), ProbeError> {
    let mut learners = fx.enrolled_learners(forms.len() + 1).await?.into_iter();
    let (mut honest, honest_enrolment) = learners
        .next()
        .ok_or_else(|| ProbeError::setup("no honest learner"))?;
    let honest_plan = StudyPlan::honest(&honest_enrolment, lesson, honest_budget);
    let cheats = forms
        .iter()
        .zip(learners)
        .map(|(form, (mut learner, enrolment))| {
            let plan = form.plan(&enrolment, lesson, budget);
            async move { Ok::<_, ProbeError>((*form, learner.study(&plan).await?)) }
        });
    let (honest_log, cheat_logs) = tokio::join!(
        honest.study(&honest_plan),
        futures::future::try_join_all(cheats)
    );
    Ok((honest_log?, cheat_logs?))
}

/// The forms of the behaviours that attack `requirement`.
fn forms_attacking(requirement: &str) -> Vec<&'static Form> {
    Behaviour::attacking(requirement)
        .into_iter()
        .flat_map(Behaviour::forms)
        .collect()
}

/// Records every study's figures and the heartbeat interval check over all of them.
fn figures_of(
    j: &mut Judge,
    ctx: &ProbeContext,
    honest: &StudyLog,
    cheats: &[(&'static Form, StudyLog)],
) {
    study_figures(j, "honest", honest);
    for (form, log) in cheats {
        study_figures(j, &form.name, log);
    }
    check_heartbeat_interval(
        j,
        &ctx.policy,
        std::iter::once(honest).chain(cheats.iter().map(|(_, log)| log)),
    );
}

/// PB-1: 不允许快进拖拽 — skipped content earns nothing: one large jump, small jumps that add up,
/// and content rewound and played again.
pub async fn no_seeking(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "PB-1", 1.0, &CourseShape::pure_online(12, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let forms = Behaviour::Seeker.forms().iter().collect::<Vec<_>>();
    let (honest, cheats) = play_forms(&fx, &lesson, &forms, 480.0, 900.0).await?;
    figures_of(j, ctx, &honest, &cheats);
    check_honest_credited(j, ctx, "honest learner", &honest);
    for (form, log) in &cheats {
        let who = format!("a learner who seeks ({})", form.name);
        j.figure(&format!("{}.seeks", form.name), log.seeks);
        j.figure(
            &format!("{}.seek_refused", form.name),
            log.refused_with(&ErrorCode::SeekForbidden),
        );
        if log.seeks == 0 && log.start_refused.is_none() {
            j.undecided(&who, "the playback ended before the seek");
            continue;
        }
        check_not_overcredited(j, &who, log);
        if matches!(form.plan("", "", 0.0).seek, Seek::Rewind { .. }) {
            j.check(
                "content rewound and played again is not credited twice",
                log.credited <= log.furthest_accepted + log.credit_slack(),
                format!(
                    "credited {:.1} s of a lesson played to {:.1} s",
                    log.credited, log.furthest_accepted
                ),
            );
        }
    }
    Ok(())
}

/// PB-2: 不允许倍速播放 — credit never exceeds the elapsed time, whatever rate a heartbeat
/// declares and however fast its position runs.
pub async fn no_speed_up(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "PB-2", 1.0, &CourseShape::pure_online(12, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let forms = forms_attacking("PB-2");
    let (honest, cheats) = play_forms(&fx, &lesson, &forms, 300.0, 900.0).await?;
    figures_of(j, ctx, &honest, &cheats);
    check_honest_credited(j, ctx, "honest learner", &honest);
    for (form, log) in &cheats {
        let plan = form.plan("", "", 0.0);
        let who = format!(
            "a speeder declaring rate {} whose position runs {}× ({})",
            plan.rate, plan.speed, form.name
        );
        check_not_overcredited(j, &who, log);
        if log.acks > 0 || !log.refusals.is_empty() {
            check_credit_within(
                j,
                format!("{who} is credited no more than the elapsed time"),
                log,
                log.elapsed,
                format!("credited {:.1} s in {:.1} s", log.credited, log.elapsed),
            );
        }
    }
    Ok(())
}

/// PB-3: 多窗口学习 — one playback at a time per learner, never double credit: a second window on
/// the same lesson, on another lesson, and on a lesson of another course.
pub async fn no_multi_window(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "PB-3", 1.0, &CourseShape::pure_online(12, 3)).await?;
    let (other_course, other_class) = fx
        .unsubsidised_course(&CourseShape::pure_online(12, 3))
        .await?;
    let general = fx.lesson(0)?.lesson_id.clone();
    let professional = fx.lesson(1)?.lesson_id.clone();
    let other_lesson = other_course
        .lessons
        .iter()
        .min_by_key(|l| l.ordinal)
        .map(|l| l.lesson_id.clone())
        .ok_or_else(|| ProbeError::setup("the other course has no lesson"))?;
    let mut trials = Vec::new();
    for form in Behaviour::MultiWindow.forms() {
        let Sitting::TwoWindows(second) = form.sitting() else {
            continue;
        };
        let (learner, enrolment) = fx.enrolled_learner().await?;
        let (second_enrolment, second_lesson) = match second {
            SecondWindow::SameLesson => (enrolment.clone(), general.clone()),
            SecondWindow::OtherLesson => (enrolment.clone(), professional.clone()),
            SecondWindow::OtherCourse => {
                let other = setup_enrolment(&learner, &other_class.class_id).await?;
                (other, other_lesson.clone())
            }
        };
        let plan_a = StudyPlan {
            until_complete: false,
            ..form.plan(&enrolment, &general, 300.0)
        };
        let plan_b = StudyPlan {
            until_complete: false,
            ..StudyPlan::honest(&second_enrolment, &second_lesson, 300.0)
        };
        trials.push((form, second, learner, plan_a, plan_b));
    }
    let runs = trials
        .into_iter()
        .map(|(form, second, mut window_a, plan_a, plan_b)| {
            let clock = fx.clock.clone();
            async move {
                let mut window_b = window_a.twin();
                let started = clock.elapsed();
                let second_window = async {
                    // The second window opens a moment after the first.
                    clock.sleep(15.0).await;
                    window_b.study(&plan_b).await
                };
                let (a, b) = tokio::join!(window_a.study(&plan_a), second_window);
                let elapsed = clock.elapsed() - started;
                Ok::<_, ProbeError>((form, second, a?, b?, elapsed, window_a))
            }
        });
    let results = futures::future::try_join_all(runs).await?;
    let logs = results.iter().flat_map(|(_, _, a, b, _, _)| [a, b]);
    check_heartbeat_interval(j, &ctx.policy, logs);
    for (form, second, a, b, elapsed, learner) in &results {
        let name = &form.name;
        study_figures(j, &format!("{name}.window_a"), a);
        study_figures(j, &format!("{name}.window_b"), b);
        j.figure(
            &format!("{name}.second_window_refused"),
            b.start_refused.as_ref().map(ToString::to_string),
        );
        let detail = format!(
            "window A: {} answers, refusals {:?}; window B: start {:?}, {} answers, refusals {:?}",
            a.acks, a.refusals, b.start_refused, b.acks, b.refusals
        );
        let what = format!("two windows ({name}) never play at once");
        match two_windows(a, b) {
            TwoWindows::NotOverlapped => j.undecided(
                what,
                format!("the windows never played at the same time: {detail}"),
            ),
            outcome => {
                j.check(
                    format!("{what} (the second is refused or the first is stopped)"),
                    outcome != TwoWindows::BothPlayed,
                    detail,
                );
            }
        }
        // Credit is per lesson: two windows on one lesson share its credit.
        let total = if *second == SecondWindow::SameLesson {
            a.credited.max(b.credited)
        } else {
            a.credited + b.credited
        };
        let creditable = learner.ledger().total();
        let slack = a.credit_slack() + b.credit_slack();
        j.figure(&format!("{name}.total_credited_seconds"), round(total));
        j.figure(&format!("{name}.creditable_seconds"), round(creditable));
        j.figure(&format!("{name}.elapsed_cohort_seconds"), round(*elapsed));
        j.check(
            format!("credit over two windows ({name}) never exceeds the elapsed time"),
            total <= elapsed + slack,
            format!("credited {total:.1} s over two windows in {elapsed:.1} s"),
        );
        j.check(
            format!("credit over two windows ({name}) counts the learner's time once"),
            total <= creditable + slack,
            format!("credited {total:.1} s, creditable {creditable:.1} s (slack {slack:.1} s)"),
        );
    }
    Ok(())
}

async fn setup_enrolment(learner: &SimLearner, class_id: &str) -> Result<String, ProbeError> {
    let enrolment = learner.enrol(class_id).await.map_err(|e| {
        ProbeError::setup(format!(
            "enrolment in an unsubsidised course of another occupation's class: {e}"
        ))
    })?;
    Ok(enrolment.enrolment_id)
}

/// PB-4: 连续5分钟内须有弹窗管控 — a popup at least every five minutes of continuous playback.
/// These two long playbacks are judged here; every playback of the run is judged once the
/// probes are done (`crate::rules::every_playback_popup_gaps`).
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
    check_heartbeat_interval(j, &ctx.policy, &logs);
    let popups: usize = logs.iter().map(|l| l.popup_gaps.popups()).sum();
    let played: f64 = logs.iter().map(|l| l.popup_gaps.played_seconds()).sum();
    let largest = logs
        .iter()
        .map(|l| l.popup_gaps.largest())
        .fold(0.0_f64, f64::max);
    j.figure("popups_seen", popups);
    j.figure("playback_seconds", round(played));
    j.figure("largest_gap_seconds", round(largest));
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
    // One second of slack for rounding; the platform must leave its own margin.
    j.check(
        "no stretch of playback longer than the bound goes without a popup",
        largest <= gap_max + 1.0,
        format!("largest gap {largest:.1} s of playback (bound {gap_max:.0} s), {popups} popups"),
    );
    Ok(())
}

/// PB-5: 挂机不计学时 — an unanswered popup or a silent learner stops credit: popups ignored,
/// the learner away from the screen, a player without focus, a long silence then resuming, a
/// wrong code, the right code after the deadline, an answer to a popup never issued, and an
/// answer after the playback was stopped.
pub async fn no_idle_credit(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "PB-5", 1.0, &CourseShape::pure_online(20, 3)).await?;
    let lesson = fx.lesson(0)?.lesson_id.clone();
    let forms = Behaviour::Idler.forms().iter().collect::<Vec<_>>();
    let (honest, cheats) = play_forms(&fx, &lesson, &forms, 800.0, 1_500.0).await?;
    figures_of(j, ctx, &honest, &cheats);
    check_honest_credited(j, ctx, "honest learner", &honest);
    for (form, log) in &cheats {
        let plan = form.plan("", "", 0.0);
        let who = format!("an idler ({})", form.name);
        let popup_needed = matches!(
            plan.popups,
            PopupStyle::WrongCode | PopupStyle::Late { .. } | PopupStyle::AfterStop
        ) || (plan.popups == PopupStyle::Ignore
            && plan.captures == crate::study::CaptureStyle::Genuine);
        if popup_needed && log.popups().next().is_none() {
            j.undecided(
                who,
                "no popup reached the learner, so this way of idling could not be tested",
            );
            continue;
        }
        check_not_overcredited(j, &who, log);
        let answers: &[(AnswerKind, &str)] = &[
            (AnswerKind::Wrong, "a popup answered with the wrong code"),
            (AnswerKind::Late, "a popup answered after its deadline"),
            (AnswerKind::Phantom, "an answer to a popup never issued"),
            (
                AnswerKind::AfterStop,
                "a popup answered after the playback stopped",
            ),
            (
                AnswerKind::BeatAfterStop,
                "a heartbeat after the playback stopped",
            ),
        ];
        for (kind, what) in answers {
            for answer in log.answers_of(*kind) {
                match &answer.outcome {
                    Err(None) => j.undecided(*what, "the target erred"),
                    outcome => {
                        j.check(
                            format!("{what} is not accepted"),
                            !answer.accepted(),
                            format!("{outcome:?}"),
                        );
                    }
                }
            }
        }
        let expected = match plan.popups {
            PopupStyle::Late { .. } => Some(AnswerKind::Late),
            PopupStyle::AfterStop => Some(AnswerKind::AfterStop),
            PopupStyle::WrongCode => Some(AnswerKind::Wrong),
            _ if plan.phantom_answer_at.is_some() => Some(AnswerKind::Phantom),
            _ => None,
        };
        if let Some(kind) = expected
            && log.answers_of(kind).next().is_none()
        {
            j.undecided(
                &who,
                format!("the playback ended before the {kind:?} answer"),
            );
        }
    }
    Ok(())
}

/// PB-6: 专业课程学习按内容先后顺序 — a later professional lesson is locked until earlier ones are
/// done: not before them, not while the one before is merely started, and open once it is
/// completed.
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
    let (mut starter, starter_enrolment) = fx.enrolled_learner().await?;
    let (in_order, started_only) = tokio::join!(
        in_order_then_next(&mut learner, &enrolment, [&first, &second, &third]),
        started_then_next(&mut starter, &starter_enrolment, [&first, &second]),
    );
    let in_order = in_order?;
    let (started, next, completed) = started_only?;

    let skipped = &in_order.skipped;
    j.figure(
        "out_of_order.start_refused",
        skipped.start_refused.as_ref().map(ToString::to_string),
    );
    j.figure("out_of_order.credited_seconds", round(skipped.credited));
    j.check(
        "the third professional lesson cannot be studied before the first two",
        skipped.start_refused.is_some() || skipped.credited <= 0.0,
        match &skipped.start_refused {
            Some(code) => format!("refused: {code}"),
            None => format!("played and credited {:.1} s", skipped.credited),
        },
    );

    j.figure("started_only.credited_seconds", round(started.credited));
    j.figure(
        "started_only.next_start_refused",
        next.start_refused.as_ref().map(ToString::to_string),
    );
    if completed || started.acks == 0 {
        j.undecided(
            "a professional lesson merely started does not unlock the next",
            format!(
                "the first lesson was {} ({} answers)",
                if completed {
                    "completed"
                } else {
                    "not started"
                },
                started.acks
            ),
        );
    } else {
        j.check(
            "a professional lesson started but not completed does not unlock the next",
            next.start_refused.is_some() || next.credited <= 0.0,
            match &next.start_refused {
                Some(code) => format!("refused: {code}"),
                None => format!(
                    "played after {:.0} s of the lesson before and credited {:.1} s",
                    started.credited, next.credited
                ),
            },
        );
    }

    check_honest_credited(j, ctx, "the first professional lesson", &in_order.done);
    match &in_order.next {
        None => j.undecided(
            "the second professional lesson after the first",
            format!(
                "the first was not completed ({:.0} s credited)",
                in_order.done.credited
            ),
        ),
        Some(next) => {
            j.check(
                "after the first professional lesson is done, the second can be studied",
                next.start_refused.is_none() && next.acks > 0,
                format!("start {:?}, {} answers", next.start_refused, next.acks),
            );
        }
    }
    Ok(())
}

/// What PB-6's learner who keeps the order did.
struct InOrder {
    /// The third lesson tried first.
    skipped: StudyLog,
    /// The first lesson played through.
    done: StudyLog,
    /// The second lesson, tried once the first was completed.
    next: Option<StudyLog>,
}

/// Tries the third professional lesson first, then plays the first through and, once it is
/// completed, the second.
async fn in_order_then_next(
    learner: &mut SimLearner,
    enrolment: &str,
    [first, second, third]: [&String; 3],
) -> Result<InOrder, ProbeError> {
    let skipped = learner
        .study(&StudyPlan {
            until_complete: false,
            ..StudyPlan::honest(enrolment, third, 120.0)
        })
        .await?;
    let done = learner
        .study(&StudyPlan::honest(enrolment, first, 600.0))
        .await?;
    let completed = lesson_completed(learner, enrolment, first).await?;
    let next = if completed {
        Some(
            learner
                .study(&StudyPlan::honest(enrolment, second, 600.0))
                .await?,
        )
    } else {
        None
    };
    Ok(InOrder {
        skipped,
        done,
        next,
    })
}

/// Whether the platform calls `lesson` of `enrolment` completed, read from the learner's
/// progress.
async fn lesson_completed(
    learner: &SimLearner,
    enrolment: &str,
    lesson: &String,
) -> Result<bool, ProbeError> {
    let progress = learner
        .client()
        .get_progress(learner.token()?, enrolment)
        .await?;
    Ok(progress
        .lessons
        .iter()
        .any(|l| &l.lesson_id == lesson && l.completed))
}

/// Plays the first professional lesson for a minute, stops, and tries the second. Returns the
/// two logs and whether the platform called the first completed.
async fn started_then_next(
    learner: &mut SimLearner,
    enrolment: &str,
    [first, second]: [&String; 2],
) -> Result<(StudyLog, StudyLog, bool), ProbeError> {
    let started = learner
        .study(&StudyPlan {
            until_complete: false,
            ..StudyPlan::honest(enrolment, first, 60.0)
        })
        .await?;
    let completed = lesson_completed(learner, enrolment, first).await?;
    let next = learner
        .study(&StudyPlan {
            until_complete: false,
            ..StudyPlan::honest(enrolment, second, 60.0)
        })
        .await?;
    Ok((started, next, completed))
}
