//! §二, §三 and 附件1: who may enrol when, which occupations may be trained purely online or
//! subsidised at all, who may organise pure-online training, and how courses are composed.

use chrono::{Months, TimeDelta};
use duxue_profile::{
    AssessmentRequest, AssessmentResult, ClassRequest, Course, Delivery, LessonCategory,
    LessonMode, OrganisationKind,
};

use super::setup;
use crate::context::ProbeContext;
use crate::fixture::{CourseShape, Fixture, proposal};
use crate::outcome::{Judge, ProbeError};

fn online_share(course: &Course) -> f64 {
    share(course, |l| l.mode == LessonMode::Online)
}

fn general_share_of(course: &Course) -> f64 {
    share(course, |l| l.category == LessonCategory::General)
}

fn share(course: &Course, pick: impl Fn(&duxue_profile::Lesson) -> bool) -> f64 {
    let total: u32 = course.lessons.iter().map(|l| l.minutes).sum();
    let part: u32 = course
        .lessons
        .iter()
        .filter(|l| pick(l))
        .map(|l| l.minutes)
        .sum();
    if total == 0 {
        0.0
    } else {
        f64::from(part) / f64::from(total)
    }
}

/// Checks every published subsidised course with `rule`; no subsidised course is undecided.
async fn check_published(
    ctx: &ProbeContext,
    j: &mut Judge,
    what: &str,
    applies: impl Fn(&Course) -> bool,
    rule: impl Fn(&Course) -> Result<(), String>,
) -> Result<(), ProbeError> {
    let courses = setup("list courses", ctx.client.list_courses().await)?.courses;
    let relevant: Vec<&Course> = courses
        .iter()
        .filter(|c| c.subsidised && applies(c))
        .collect();
    j.figure("published_courses_checked", relevant.len());
    let broken: Vec<String> = relevant
        .iter()
        .filter_map(|c| {
            rule(c)
                .err()
                .map(|why| format!("{} ({}): {why}", c.course_id, c.title))
        })
        .collect();
    if relevant.is_empty() {
        j.undecided(
            what,
            "the platform publishes no course this rule applies to",
        );
    } else {
        j.check(
            what,
            broken.is_empty(),
            if broken.is_empty() {
                format!("{} courses checked", relevant.len())
            } else {
                broken.join("; ")
            },
        );
    }
    Ok(())
}

/// EN-1: 上一个培训项目未考核或考核结束不足一个月的，不得再次参加补贴培训 — whatever course or
/// occupation the next project is for.
pub async fn cooldown_after_assessment(
    ctx: &ProbeContext,
    j: &mut Judge,
) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "EN-1", 1.0, &CourseShape::pure_online(8, 3)).await?;
    let same_course = setup(
        "create a second class of the same course",
        fx.client
            .create_class(&ClassRequest {
                course_id: fx.course.course_id.clone(),
                organiser_id: fx.enterprise.organisation_id.clone(),
                name: crate::fixture::names::class("EN-1 second"),
            })
            .await,
    )?;
    // Another subsidised course, for another occupation where the platform has one: a cooldown
    // counted per course or per occupation is no cooldown.
    let occupation = other_pure_online_occupation(ctx, &fx.course.occupation)?;
    let other_course = setup(
        "propose another course",
        fx.client
            .propose_course(&proposal(
                &CourseShape::pure_online(8, 3),
                &occupation,
                "EN-1 另一课程",
            ))
            .await,
    )?;
    let other_course_class = setup(
        "create a class of another course",
        fx.client
            .create_class(&ClassRequest {
                course_id: other_course.course_id.clone(),
                organiser_id: fx.enterprise.organisation_id.clone(),
                name: crate::fixture::names::class("EN-1 另一课程班"),
            })
            .await,
    )?;
    let (learner, first) = fx.enrolled_learner().await?;
    let token = learner.token()?.to_owned();
    let another = format!("of another course ({occupation})");
    let classes = [
        ("of the same course", &same_course.class_id),
        (another.as_str(), &other_course_class.class_id),
    ];

    for (which, class_id) in classes {
        let unassessed = fx.client.enrol(&token, class_id).await;
        j.expect_refused(
            &format!(
                "enrolment in a class {which} while the last project is unassessed is refused"
            ),
            &unassessed,
        );
    }

    let assessment = setup(
        "record the assessment",
        fx.client
            .record_assessment(&AssessmentRequest {
                enrolment_id: first.clone(),
                result: AssessmentResult::Passed,
            })
            .await,
    )?;
    for (which, class_id) in classes {
        let just_after = fx.client.enrol(&token, class_id).await;
        j.expect_refused(
            &format!("enrolment in a class {which} right after the assessment is refused"),
            &just_after,
        );
    }

    let months = ctx.policy.rules.cooldown_months.value;
    let assessed = assessment.assessed_at;
    // Calendar months on the policy's calendar dates (China Standard Time for Xuchang).
    let cooldown_end = assessed
        .with_timezone(&ctx.policy.calendar_offset())
        .checked_add_months(Months::new(months))
        .map(|end| end.to_utc())
        .ok_or_else(|| ProbeError::setup("cooldown end out of range"))?;
    let now = fx.clock.now();
    let to_day_before = (cooldown_end - TimeDelta::days(1) - now).num_seconds() as f64;
    if to_day_before > 0.0 {
        fx.advance(to_day_before).await?;
    }
    for (which, class_id) in classes {
        let day_before = fx.client.enrol(&token, class_id).await;
        j.expect_refused(
            &format!(
                "enrolment in a class {which} one day before {months} calendar month(s) have passed is refused"
            ),
            &day_before,
        );
    }
    fx.advance(2.0 * 86_400.0).await?;
    // One enrolment after the cooldown opens a new project, which closes the door again.
    let (which, class_id) = classes[1];
    let after = fx.client.enrol(&token, class_id).await;
    j.expect_ok(
        &format!(
            "enrolment in a class {which} one day after {months} calendar month(s) is accepted"
        ),
        &after,
    );
    j.figure("assessed_at", assessed.to_rfc3339());
    j.figure("cooldown_ends", cooldown_end.to_rfc3339());
    j.figure("other_course_occupation", &occupation);
    Ok(())
}

/// An approved pure-online occupation other than `not`, or `not` itself when the platform is
/// approved for no other.
fn other_pure_online_occupation(ctx: &ProbeContext, not: &str) -> Result<String, ProbeError> {
    let approved = ctx.approved_occupations()?;
    Ok(approved
        .iter()
        .find(|o| o.as_str() != not && ctx.policy.allows_pure_online(o))
        .cloned()
        .unwrap_or_else(|| not.to_owned()))
}

/// EN-2: 纯线上培训仅限30个职业（工种）.
pub async fn pure_online_occupations(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    let occupation = ctx.approved_not_pure_online()?;
    let shape = CourseShape::pure_online(10, 3);
    let refused = ctx
        .client
        .propose_course(&proposal(&shape, &occupation, "EN-2"))
        .await;
    j.expect_refused(
        &format!("a pure-online course for {occupation} (not on the §二 list) is refused"),
        &refused,
    );
    let allowed = ctx.course_occupation(Delivery::PureOnline)?;
    let control = ctx
        .client
        .propose_course(&proposal(&shape, &allowed, "EN-2 control"))
        .await;
    j.expect_ok(
        &format!("a pure-online course for {allowed} (listed) is accepted"),
        &control,
    );
    let policy = ctx.policy.clone();
    check_published(
        ctx,
        j,
        "every published pure-online subsidised course is for a listed occupation",
        |c| c.delivery == Delivery::PureOnline,
        |c| {
            if policy.allows_pure_online(&c.occupation) {
                Ok(())
            } else {
                Err(format!("{} may not be trained purely online", c.occupation))
            }
        },
    )
    .await
}

/// EN-3: 纯线上培训主体为企业（不含专营劳务派遣的企业）.
pub async fn enterprise_organises_pure_online(
    ctx: &ProbeContext,
    j: &mut Judge,
) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "EN-3", 1.0, &CourseShape::pure_online(8, 3)).await?;
    let dispatch = fx
        .organisation("劳务派遣", OrganisationKind::LabourDispatch)
        .await?;
    for (who, organiser) in [
        ("a labour-dispatch firm", &dispatch),
        ("a training institution", &fx.institution),
    ] {
        let result = fx
            .client
            .create_class(&ClassRequest {
                course_id: fx.course.course_id.clone(),
                organiser_id: organiser.organisation_id.clone(),
                name: crate::fixture::names::class("EN-3"),
            })
            .await;
        j.expect_refused(
            &format!("a pure-online class organised by {who} is refused"),
            &result,
        );
    }
    let control = fx
        .client
        .create_class(&ClassRequest {
            course_id: fx.course.course_id.clone(),
            organiser_id: fx.enterprise.organisation_id.clone(),
            name: crate::fixture::names::class("EN-3 control"),
        })
        .await;
    j.expect_ok(
        "a pure-online class organised by an enterprise is accepted",
        &control,
    );
    Ok(())
}

/// EN-4: 补贴性培训仅限平台纳入目录清单管理的职业（工种）(附件1).
pub async fn approved_occupations_only(
    ctx: &ProbeContext,
    j: &mut Judge,
) -> Result<(), ProbeError> {
    let occupation = ctx.pure_online_not_approved()?;
    let shape = CourseShape::pure_online(10, 3);
    let refused = ctx
        .client
        .propose_course(&proposal(&shape, &occupation, "EN-4"))
        .await;
    j.expect_refused(
        &format!(
            "a subsidised course for {occupation} (not approved for this platform) is refused"
        ),
        &refused,
    );
    let approved: Vec<String> = ctx.approved_occupations()?.to_vec();
    let meta = setup("read metadata", ctx.client.get_meta().await)?;
    let claimed_extra: Vec<&String> = meta
        .approved_occupations
        .iter()
        .filter(|o| !approved.contains(o))
        .collect();
    j.check(
        "the platform claims no approval Annex 1 does not give it",
        claimed_extra.is_empty(),
        format!("claimed beyond Annex 1: {claimed_extra:?}"),
    );
    check_published(
        ctx,
        j,
        "every published subsidised course is for an approved occupation",
        |_| true,
        |c| {
            if approved.contains(&c.occupation) {
                Ok(())
            } else {
                Err(format!(
                    "{} is not approved for this platform",
                    c.occupation
                ))
            }
        },
    )
    .await
}

/// A lesson list of `class_hours` whole class hours of `category` and `mode`, in lessons of
/// at most 1,440 minutes: shares then come out the same in minutes and in class hours.
fn hours_of(
    policy: &duxue_profile::Policy,
    class_hours: u32,
    category: LessonCategory,
    mode: LessonMode,
) -> Vec<(u32, LessonCategory, LessonMode)> {
    let per_hour = policy.rules.class_hour_minutes.value.max(1);
    let per_lesson = (1_440 / per_hour).max(1);
    let mut left = class_hours;
    let mut lessons = Vec::new();
    while left > 0 {
        let take = left.min(per_lesson);
        lessons.push((take * per_hour, category, mode));
        left -= take;
    }
    lessons
}

/// Proposes a course and judges the answer: `fine` ones must be accepted, the others refused.
async fn propose_expecting(
    ctx: &ProbeContext,
    j: &mut Judge,
    what: &str,
    shape: &CourseShape,
    occupation: &str,
    fine: bool,
) {
    let result = ctx
        .client
        .propose_course(&proposal(shape, occupation, "CD"))
        .await;
    if fine {
        j.expect_ok(&format!("a course with {what} is accepted"), &result);
    } else {
        j.expect_refused(&format!("a course with {what} is refused"), &result);
    }
}

/// The share in whole percent of 100 class hours: the bound itself and one step either side.
fn steps_around(bound: f64) -> (u32, u32) {
    let at = (bound * 100.0).round() as u32;
    (at, at + 1)
}

/// CD-1: 线上理论学习不超过总课时的40% — tested at the bound and one step above it.
pub async fn blended_online_share(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    use LessonCategory::{General, Professional};
    use LessonMode::{Offline, Online};
    let occupation = ctx.course_occupation(Delivery::Blended)?;
    let bound = ctx.policy.rules.blended_online_share_max.value;
    let (at, above) = steps_around(bound);
    // 100 class hours, a general share in the middle of its bounds; only the online share varies.
    let general = ((ctx.policy.rules.general_share_min.value
        + ctx.policy.rules.general_share_max.value)
        * 50.0)
        .round() as u32;
    let policy = &ctx.policy;
    let blended = |online: u32| {
        let mut lessons = hours_of(policy, general.min(online), General, Online);
        lessons.extend(hours_of(
            policy,
            online - general.min(online),
            Professional,
            Online,
        ));
        lessons.extend(hours_of(
            policy,
            general - general.min(online),
            General,
            Offline,
        ));
        lessons.extend(hours_of(
            policy,
            100 - online.max(general),
            Professional,
            Offline,
        ));
        CourseShape {
            delivery: Delivery::Blended,
            lessons,
        }
    };
    for (online, fine) in [(above + 9, false), (above, false), (at, true)] {
        propose_expecting(
            ctx,
            j,
            &format!("{online}% of its class hours online"),
            &blended(online),
            &occupation,
            fine,
        )
        .await;
    }
    check_published(
        ctx,
        j,
        "every published blended course keeps online hours within the bound",
        |c| c.delivery == Delivery::Blended,
        |c| {
            let s = online_share(c);
            if s <= bound + 1e-9 {
                Ok(())
            } else {
                Err(format!("{:.0}% online", s * 100.0))
            }
        },
    )
    .await
}

/// CD-2: 综合性培训占总课时的20%至35% — each bound tested from both sides.
pub async fn general_share(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    use LessonCategory::{General, Professional};
    let occupation = ctx.course_occupation(Delivery::PureOnline)?;
    let (min, max) = (
        ctx.policy.rules.general_share_min.value,
        ctx.policy.rules.general_share_max.value,
    );
    let policy = &ctx.policy;
    let online = |general: u32| {
        let mut lessons = hours_of(policy, general, General, LessonMode::Online);
        lessons.extend(hours_of(
            policy,
            100 - general,
            Professional,
            LessonMode::Online,
        ));
        CourseShape {
            delivery: Delivery::PureOnline,
            lessons,
        }
    };
    let (low, _) = steps_around(min);
    let (high, _) = steps_around(max);
    let cases = [
        (low.saturating_sub(10), false),
        (low.saturating_sub(1), false),
        (low, true),
        (high, true),
        (high + 1, false),
        ((high + 15).min(100), false),
    ];
    for (general, fine) in cases {
        propose_expecting(
            ctx,
            j,
            &format!("{general}% general training"),
            &online(general),
            &occupation,
            fine,
        )
        .await;
    }
    check_published(
        ctx,
        j,
        "every published subsidised course has a general share within the bounds",
        |_| true,
        |c| {
            let s = general_share_of(c);
            if s >= min - 1e-9 && s <= max + 1e-9 {
                Ok(())
            } else {
                Err(format!("{:.0}% general", s * 100.0))
            }
        },
    )
    .await
}
