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

/// EN-1: 上一个培训项目未考核或考核结束不足一个月的，不得再次参加补贴培训.
pub async fn cooldown_after_assessment(
    ctx: &ProbeContext,
    j: &mut Judge,
) -> Result<(), ProbeError> {
    let fx = Fixture::new(ctx, "EN-1", 1.0, &CourseShape::pure_online(8, 3)).await?;
    let second_class = setup(
        "create a second class",
        fx.client
            .create_class(&ClassRequest {
                course_id: fx.course.course_id.clone(),
                organiser_id: fx.enterprise.organisation_id.clone(),
                name: crate::fixture::names::class("EN-1 second"),
            })
            .await,
    )?;
    let (learner, first) = fx.enrolled_learner().await?;
    let token = learner.token()?.to_owned();

    let unassessed = fx.client.enrol(&token, &second_class.class_id).await;
    j.expect_refused(
        "enrolment while the last project is unassessed is refused",
        &unassessed,
    );

    let assessment = setup(
        "record the assessment",
        fx.client
            .record_assessment(&AssessmentRequest {
                enrolment_id: first.clone(),
                result: AssessmentResult::Passed,
            })
            .await,
    )?;
    let just_after = fx.client.enrol(&token, &second_class.class_id).await;
    j.expect_refused(
        "enrolment right after the assessment is refused",
        &just_after,
    );

    let months = ctx.policy.rules.cooldown_months.value;
    let assessed = assessment.assessed_at;
    let cooldown_end = assessed
        .checked_add_months(Months::new(months))
        .ok_or_else(|| ProbeError::setup("cooldown end out of range"))?;
    let now = fx.clock.now();
    let to_day_before = (cooldown_end - TimeDelta::days(1) - now).num_seconds() as f64;
    if to_day_before > 0.0 {
        fx.advance(to_day_before).await?;
    }
    let day_before = fx.client.enrol(&token, &second_class.class_id).await;
    j.expect_refused(
        &format!("enrolment one day before {months} calendar month(s) have passed is refused"),
        &day_before,
    );
    fx.advance(2.0 * 86_400.0).await?;
    let after = fx.client.enrol(&token, &second_class.class_id).await;
    j.expect_ok(
        &format!("enrolment one day after {months} calendar month(s) is accepted"),
        &after,
    );
    j.figure("assessed_at", assessed.to_rfc3339());
    j.figure("cooldown_ends", cooldown_end.to_rfc3339());
    Ok(())
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

fn blended(online: &[(u32, LessonCategory)], offline: &[(u32, LessonCategory)]) -> CourseShape {
    let mut lessons: Vec<_> = online
        .iter()
        .map(|(m, c)| (*m, *c, LessonMode::Online))
        .collect();
    lessons.extend(offline.iter().map(|(m, c)| (*m, *c, LessonMode::Offline)));
    CourseShape {
        delivery: Delivery::Blended,
        lessons,
    }
}

/// CD-1: 线上理论学习不超过总课时的40%.
pub async fn blended_online_share(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    use LessonCategory::{General, Professional};
    let occupation = ctx.course_occupation(Delivery::Blended)?;
    let bound = ctx.policy.rules.blended_online_share_max.value;
    // 50% online, 25% general: only the online share is wrong.
    let too_online = blended(&[(25, General), (25, Professional)], &[(50, Professional)]);
    let result = ctx
        .client
        .propose_course(&proposal(&too_online, &occupation, "CD-1"))
        .await;
    j.expect_refused(
        "a blended course with 50% of its hours online is refused",
        &result,
    );
    // 40% online, 25% general.
    let at_bound = blended(&[(25, General), (15, Professional)], &[(60, Professional)]);
    let result = ctx
        .client
        .propose_course(&proposal(&at_bound, &occupation, "CD-1 control"))
        .await;
    j.expect_ok(
        "a blended course with 40% of its hours online is accepted",
        &result,
    );
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

/// CD-2: 综合性培训占总课时的20%至35%.
pub async fn general_share(ctx: &ProbeContext, j: &mut Judge) -> Result<(), ProbeError> {
    use LessonCategory::{General, Professional};
    let occupation = ctx.course_occupation(Delivery::PureOnline)?;
    let (min, max) = (
        ctx.policy.rules.general_share_min.value,
        ctx.policy.rules.general_share_max.value,
    );
    let online = |lessons: &[(u32, LessonCategory)]| CourseShape {
        delivery: Delivery::PureOnline,
        lessons: lessons
            .iter()
            .map(|(m, c)| (*m, *c, LessonMode::Online))
            .collect(),
    };
    let cases = [
        (
            "10% general",
            online(&[(10, General), (45, Professional), (45, Professional)]),
            false,
        ),
        (
            "50% general",
            online(&[(50, General), (25, Professional), (25, Professional)]),
            false,
        ),
        (
            "25% general",
            online(&[(25, General), (45, Professional), (30, Professional)]),
            true,
        ),
    ];
    for (what, shape, fine) in cases {
        let result = ctx
            .client
            .propose_course(&proposal(&shape, &occupation, "CD-2"))
            .await;
        if fine {
            j.expect_ok(&format!("a course with {what} is accepted"), &result);
        } else {
            j.expect_refused(&format!("a course with {what} is refused"), &result);
        }
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
