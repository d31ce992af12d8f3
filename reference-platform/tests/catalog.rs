//! EN-1…EN-4 and CD-1, CD-2: enrolment and catalog rules, clean and with each defect.

mod common;

use common::*;
use duxue_platform::Defect;
use duxue_profile::*;

fn proposal(occupation: &str, delivery: Delivery, lessons: Vec<LessonSpec>) -> CourseProposal {
    CourseProposal {
        title: format!("{occupation} course"),
        occupation: occupation.into(),
        level: "五级".into(),
        delivery,
        subsidised: true,
        lessons,
    }
}

fn online(general: u32, professional: u32) -> Vec<LessonSpec> {
    vec![
        lesson("g", general, LessonCategory::General, LessonMode::Online),
        lesson(
            "p",
            professional,
            LessonCategory::Professional,
            LessonMode::Online,
        ),
    ]
}

fn blended(general_online: u32, pro_online: u32, pro_offline: u32) -> Vec<LessonSpec> {
    vec![
        lesson(
            "g",
            general_online,
            LessonCategory::General,
            LessonMode::Online,
        ),
        lesson(
            "p",
            pro_online,
            LessonCategory::Professional,
            LessonMode::Online,
        ),
        lesson(
            "x",
            pro_offline,
            LessonCategory::Professional,
            LessonMode::Offline,
        ),
    ]
}

/// Every catalog case: (defect that should let it through, proposal, code when refused).
fn cases() -> Vec<(Option<Defect>, CourseProposal, &'static str)> {
    vec![
        (
            None,
            proposal("电子商务师", Delivery::PureOnline, online(25, 75)),
            "",
        ),
        (
            None,
            proposal("家政服务员", Delivery::Blended, blended(25, 10, 65)),
            "",
        ),
        // EN-2: 家政服务员 is approved (Annex 1 No. 7) but not on the pure-online list
        (
            Some(Defect::AnyOccupationOnline),
            proposal("家政服务员", Delivery::PureOnline, online(25, 75)),
            "occupation_not_pure_online",
        ),
        // EN-4: 导购员 may be trained purely online but is not approved for platform No. 7
        (
            Some(Defect::UnapprovedOccupation),
            proposal("导购员", Delivery::PureOnline, online(25, 75)),
            "occupation_not_approved",
        ),
        // CD-1: blended with 60% online
        (
            Some(Defect::OnlineShareUnchecked),
            proposal("家政服务员", Delivery::Blended, blended(25, 35, 40)),
            "composition_invalid",
        ),
        // CD-2: general 10% and 50%
        (
            Some(Defect::GeneralShareUnchecked),
            proposal("电子商务师", Delivery::PureOnline, online(10, 90)),
            "composition_invalid",
        ),
        (
            Some(Defect::GeneralShareUnchecked),
            proposal("电子商务师", Delivery::PureOnline, online(50, 50)),
            "composition_invalid",
        ),
    ]
}

#[tokio::test]
async fn course_rules_hold_and_each_defect_opens_only_its_rule() {
    let configs = [
        None,
        Some(Defect::AnyOccupationOnline),
        Some(Defect::UnapprovedOccupation),
        Some(Defect::OnlineShareUnchecked),
        Some(Defect::GeneralShareUnchecked),
    ];
    for defect in configs {
        let env = Env::new(&defect.into_iter().collect::<Vec<_>>()).await;
        let c = &env.client;
        for (opens, p, refusal) in cases() {
            let r = c.propose_course(&p).await;
            if refusal.is_empty() || (defect.is_some() && opens == defect) {
                r.unwrap_or_else(|e| panic!("{defect:?}: {} refused: {e}", p.occupation));
            } else {
                assert_eq!(code(&r.unwrap_err()), refusal, "{defect:?} {p:?}");
            }
        }
        // the seeded catalog obeys every rule
        let meta = c.get_meta().await.unwrap();
        assert!(meta.conformance_enabled);
        let policy = Policy::builtin("xuchang-2022").unwrap().unwrap();
        for course in c.list_courses().await.unwrap().courses.iter().take(3) {
            assert!(meta.approved_occupations.contains(&course.occupation));
            if course.delivery == Delivery::PureOnline {
                assert!(policy.allows_pure_online(&course.occupation));
            }
        }
        env.stop().await;
    }
}

#[tokio::test]
async fn organisers_follow_delivery_unless_labour_dispatch_allowed() {
    for defects in [vec![], vec![Defect::LabourDispatchAllowed]] {
        let env = Env::new(&defects).await;
        let c = &env.client;
        let w = world(c, 1.0).await;
        let dispatch = c
            .create_organisation(&OrganisationRequest {
                cohort_id: w.cohort.cohort_id.clone(),
                name: "派遣".into(),
                kind: OrganisationKind::LabourDispatch,
            })
            .await
            .unwrap();
        let class = |org: &str, course: &str| ClassRequest {
            course_id: course.into(),
            organiser_id: org.into(),
            name: "c".into(),
        };
        let online_course = &w.online_course.course_id;
        let r = c
            .create_class(&class(&dispatch.organisation_id, online_course))
            .await;
        if defects.is_empty() {
            assert_eq!(code(&r.unwrap_err()), "organiser_not_allowed");
        } else {
            r.expect("labour-dispatch-allowed");
        }
        // neighbours: an institution may not organise pure-online, an enterprise not blended
        let inst = c
            .create_class(&class(&w.institution.organisation_id, online_course))
            .await
            .unwrap_err();
        assert_eq!(code(&inst), "organiser_not_allowed");
        let blended_course = c
            .propose_course(&proposal(
                "家政服务员",
                Delivery::Blended,
                blended(25, 10, 65),
            ))
            .await
            .unwrap();
        let ent = c
            .create_class(&class(
                &w.enterprise.organisation_id,
                &blended_course.course_id,
            ))
            .await
            .unwrap_err();
        assert_eq!(code(&ent), "organiser_not_allowed");
        c.create_class(&class(
            &w.institution.organisation_id,
            &blended_course.course_id,
        ))
        .await
        .unwrap();
        env.stop().await;
    }
}

#[tokio::test]
async fn cooldown_on_the_cohort_clock_unless_no_cooldown() {
    for defects in [vec![], vec![Defect::NoCooldown]] {
        let env = Env::new(&defects).await;
        let c = &env.client;
        let start_at = "2022-06-01T00:00:00Z".parse().unwrap();
        let cohort = c
            .create_cohort(&CohortRequest {
                label: "cooldown".into(),
                clock_scale: 1.0,
                start_at: Some(start_at),
            })
            .await
            .unwrap();
        let ent = c
            .create_organisation(&OrganisationRequest {
                cohort_id: cohort.cohort_id.clone(),
                name: "企业".into(),
                kind: OrganisationKind::Enterprise,
            })
            .await
            .unwrap();
        let mut classes = Vec::new();
        for _ in 0..3 {
            let course = c.propose_course(&short_course()).await.unwrap();
            classes.push(
                c.create_class(&ClassRequest {
                    course_id: course.course_id,
                    organiser_id: ent.organisation_id.clone(),
                    name: "c".into(),
                })
                .await
                .unwrap(),
            );
        }
        let s = student(c, 30, &ent.organisation_id).await;
        let t = &s.session.token;
        let first = c.enrol(t, &classes[0].class_id).await.unwrap();
        assert_eq!(
            code(&c.enrol(t, &classes[0].class_id).await.unwrap_err()),
            "already_enrolled"
        );
        let unassessed = c.enrol(t, &classes[1].class_id).await;
        c.record_assessment(&AssessmentRequest {
            enrolment_id: first.enrolment_id.clone(),
            result: AssessmentResult::Passed,
        })
        .await
        .unwrap();
        c.advance_clock(&cohort.cohort_id, 29.0 * 86_400.0)
            .await
            .unwrap();
        let early = c.enrol(t, &classes[2].class_id).await;
        if defects.is_empty() {
            assert_eq!(code(&unassessed.unwrap_err()), "cooldown_active");
            assert_eq!(code(&early.unwrap_err()), "cooldown_active");
            c.advance_clock(&cohort.cohort_id, 2.0 * 86_400.0)
                .await
                .unwrap();
            c.enrol(t, &classes[2].class_id)
                .await
                .expect("after one month");
        } else {
            unassessed.expect("no-cooldown: unassessed enrolment accepted");
            early.expect("no-cooldown: early enrolment accepted");
        }
        env.stop().await;
    }
}
