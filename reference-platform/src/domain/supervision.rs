//! Supervision (read-only): scopes (SV-3), live status (SV-2), learner records, trajectories,
//! captures and liveness attempts with their images (SV-5), classes and the completion export
//! with its subsidy payee (SV-7, SV-8).

use duxue_profile::{
    CaptureList, ClassList, CompletionExport, CompletionLine, Delivery, LearnerRecord,
    LearnerStatus, LearnerStatusList, LessonMode, LiveStatus, LivenessList, OrganisationKind,
    SubsidyPayee, SupervisorKind, Trajectory, TrajectoryEvent,
};
use rusqlite::params;

use super::*;
use crate::clock::{to_datetime, wall_now};
use crate::controls::OutOfScope;
use crate::domain::identity::{LivenessDoc, learner_view};
use crate::domain::playback::CaptureDoc;
use crate::error::Outcome;

/// How long (wall seconds) defect `stale-monitoring` keeps serving a cached live view.
pub const STALE_VIEW_SECONDS: f64 = 60.0;

impl Platform {
    /// SV-3: whether a supervisor may see a learner.
    pub(crate) fn in_scope(&self, w: &World, sup: &SupervisorRec, learner: &LearnerRec) -> bool {
        if learner.cohort_id != sup.cohort_id {
            return false;
        }
        match (&sup.kind, &sup.organisation_id) {
            (SupervisorKind::Authority | SupervisorKind::Audit, _) => true,
            _ if self.has(Defect::ScopeLeak) => true,
            (_, Some(org)) => {
                learner.organisation_id == *org
                    || w.enrolments_by_learner
                        .get(&learner.id)
                        .into_iter()
                        .flatten()
                        .any(|e| {
                            w.enrolments
                                .get(e)
                                .and_then(|e| w.classes.get(&e.class_id))
                                .is_some_and(|c| c.class.organiser_id == *org)
                        })
            }
            (_, None) => false,
        }
    }

    /// The refusal of a read of something that exists outside the supervisor's scope: 404 as
    /// if it did not exist (no existence leak; the reference), or 403 (`scope-forbidden`).
    fn out_of_scope(&self, not_found: &str) -> Refusal {
        match self.controls.out_of_scope {
            OutOfScope::NotFound => Refusal::not_found(not_found),
            OutOfScope::Forbidden => Refusal::new(
                duxue_profile::ErrorCode::Forbidden,
                "outside this account's scope",
            ),
        }
    }

    /// The learner if in the supervisor's scope (404 or 403 otherwise, see `out_of_scope`).
    fn learner_in_scope(
        &self,
        w: &World,
        sup: &SupervisorRec,
        learner_id: &str,
    ) -> Outcome<LearnerRec> {
        const NOT_FOUND: &str = "no such learner in this account's scope";
        let learner = w
            .learners
            .get(learner_id)
            .ok_or_else(|| Refusal::not_found(NOT_FOUND))?;
        if !self.in_scope(w, sup, learner) {
            return Err(self.out_of_scope(NOT_FOUND));
        }
        Ok(learner.clone())
    }

    /// SV-2: every learner in scope with live status.
    pub fn list_learners(&self, sup: &SupervisorRec) -> LearnerStatusList {
        if self.has(Defect::StaleMonitoring) {
            let cached = self.stale_views.lock().get(&sup.id).cloned();
            if let Some((at, view)) = cached
                && wall_now() - at < STALE_VIEW_SECONDS
            {
                return view;
            }
        }
        let gap = f64::from(self.policy.rules.heartbeat_max_gap_seconds.value);
        let w = self.world.lock();
        let mut learners: Vec<&LearnerRec> = w
            .learners
            .values()
            .filter(|l| self.in_scope(&w, sup, l))
            .collect();
        learners.sort_by(|a, b| {
            a.registered_at
                .total_cmp(&b.registered_at)
                .then(a.id.cmp(&b.id))
        });
        let now = w.cohort_now(&sup.cohort_id);
        let view = LearnerStatusList {
            learners: learners
                .into_iter()
                .map(|l| {
                    let playing = w
                        .active_playbacks
                        .get(&l.id)
                        .into_iter()
                        .flatten()
                        .filter_map(|p| w.playbacks.get(p))
                        .filter(|p| p.active() && now - p.last_hb <= gap)
                        .max_by(|a, b| a.last_hb.total_cmp(&b.last_hb));
                    let online = w.live_sessions.get(&l.id).is_some_and(|v| !v.is_empty());
                    let (status, lesson_id, position) = match playing {
                        Some(p) => {
                            let pos = w.progress.get(&p.progress_id).map(|g| g.furthest);
                            (LiveStatus::Studying, Some(p.lesson_id.clone()), pos)
                        }
                        None if online => (LiveStatus::Online, None, None),
                        None => (LiveStatus::Offline, None, None),
                    };
                    LearnerStatus {
                        learner_id: l.id.clone(),
                        name: l.name.clone(),
                        organisation_id: l.organisation_id.clone(),
                        status,
                        lesson_id,
                        position_seconds: position,
                        last_seen_at: l.last_seen_at.map(to_datetime),
                    }
                })
                .collect(),
        };
        drop(w);
        if self.has(Defect::StaleMonitoring) {
            self.stale_views
                .lock()
                .insert(sup.id.clone(), (wall_now(), view.clone()));
        }
        view
    }

    pub fn get_learner(&self, sup: &SupervisorRec, learner_id: &str) -> Outcome<LearnerRecord> {
        let w = self.world.lock();
        let l = self.learner_in_scope(&w, sup, learner_id)?;
        Ok(LearnerRecord {
            learner: learner_view(&l),
            face_image_id: l.face_image_id.clone(),
            id_card_image_id: l.id_card_image_id.clone(),
        })
    }

    pub async fn trajectory(&self, sup: &SupervisorRec, learner_id: &str) -> Outcome<Trajectory> {
        {
            let w = self.world.lock();
            self.learner_in_scope(&w, sup, learner_id)?;
        }
        self.flush().await?;
        let id = learner_id.to_owned();
        let events = self
            .reads
            .run(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT at, kind, lesson_id, position, detail FROM trajectory
                     WHERE learner_id = ?1 ORDER BY seq",
                )?;
                let rows = stmt.query_map(params![id], |r| {
                    Ok(TrajectoryEvent {
                        at: to_datetime(r.get(0)?),
                        kind: r.get(1)?,
                        lesson_id: r.get(2)?,
                        position_seconds: r.get(3)?,
                        detail: r.get(4)?,
                    })
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        Ok(Trajectory {
            learner_id: learner_id.to_owned(),
            events,
        })
    }

    /// Every stored document of a kind owned by a learner.
    async fn owned_docs<T: Doc + Send + 'static>(&self, learner_id: &str) -> Outcome<Vec<T>> {
        self.flush().await?;
        let id = learner_id.to_owned();
        let bodies = self
            .reads
            .run(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT body FROM documents WHERE kind = ?1 AND owner = ?2 ORDER BY at, id",
                )?;
                let rows = stmt.query_map(params![T::KIND, id], |r| r.get::<_, String>(0))?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        bodies
            .iter()
            .map(|b| {
                serde_json::from_str(b)
                    .map_err(|e| Refusal::internal(format!("stored {}: {e}", T::KIND)))
            })
            .collect()
    }

    pub async fn captures(&self, sup: &SupervisorRec, learner_id: &str) -> Outcome<CaptureList> {
        {
            let w = self.world.lock();
            self.learner_in_scope(&w, sup, learner_id)?;
        }
        let docs: Vec<CaptureDoc> = self.owned_docs(learner_id).await?;
        Ok(CaptureList {
            learner_id: learner_id.to_owned(),
            captures: docs.into_iter().map(|d| d.record).collect(),
        })
    }

    pub async fn liveness(&self, sup: &SupervisorRec, learner_id: &str) -> Outcome<LivenessList> {
        {
            let w = self.world.lock();
            self.learner_in_scope(&w, sup, learner_id)?;
        }
        let docs: Vec<LivenessDoc> = self.owned_docs(learner_id).await?;
        Ok(LivenessList {
            learner_id: learner_id.to_owned(),
            attempts: docs.into_iter().map(|d| d.record).collect(),
        })
    }

    /// SV-5, RT-1: an image exactly as stored, with its MIME type.
    pub async fn image(&self, sup: &SupervisorRec, image_id: &str) -> Outcome<(String, Vec<u8>)> {
        self.flush().await?;
        let id = image_id.to_owned();
        let row = self
            .reads
            .run(move |c| {
                let mut stmt =
                    c.prepare_cached("SELECT learner_id, mime, bytes FROM images WHERE id = ?1")?;
                let mut rows = stmt.query(params![id])?;
                match rows.next()? {
                    Some(r) => Ok(Some((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))),
                    None => Ok(None),
                }
            })
            .await?;
        let (learner, mime, bytes) = row.ok_or_else(|| Refusal::not_found("no such image"))?;
        let w = self.world.lock();
        let unscoped = self.has(Defect::ImagesAndExportsUnscoped);
        let in_scope = w.learners.get(&learner).is_some_and(|l| {
            self.in_scope(&w, sup, l) || (unscoped && l.cohort_id == sup.cohort_id)
        });
        if !in_scope {
            return Err(self.out_of_scope("no such image"));
        }
        Ok((mime, bytes))
    }

    fn class_visible(&self, w: &World, sup: &SupervisorRec, class: &ClassRec) -> bool {
        if class.cohort_id != sup.cohort_id {
            return false;
        }
        match (&sup.kind, &sup.organisation_id) {
            (SupervisorKind::Authority | SupervisorKind::Audit, _) => true,
            _ if self.has(Defect::ScopeLeak) => true,
            (_, Some(org)) => {
                class.class.organiser_id == *org
                    || w.enrolments_by_class
                        .get(&class.id)
                        .into_iter()
                        .flatten()
                        .any(|e| {
                            w.enrolments
                                .get(e)
                                .and_then(|e| w.learners.get(&e.learner_id))
                                .is_some_and(|l| l.organisation_id == *org)
                        })
            }
            (_, None) => false,
        }
    }

    pub fn list_classes(&self, sup: &SupervisorRec) -> ClassList {
        let w = self.world.lock();
        let mut classes: Vec<&ClassRec> = w
            .classes
            .values()
            .filter(|c| self.class_visible(&w, sup, c))
            .collect();
        classes.sort_by(|a, b| a.created_at.total_cmp(&b.created_at).then(a.id.cmp(&b.id)));
        ClassList {
            classes: classes.into_iter().map(|c| c.class.clone()).collect(),
        }
    }

    /// SV-7, SV-8: the completion export (结业信息) with its subsidy payee.
    pub fn export_completion(
        &self,
        sup: &SupervisorRec,
        class_id: &str,
    ) -> Outcome<CompletionExport> {
        let w = self.world.lock();
        const NOT_FOUND: &str = "no such class in this account's scope";
        let unscoped = self.has(Defect::ImagesAndExportsUnscoped);
        let class = w
            .classes
            .get(class_id)
            .ok_or_else(|| Refusal::not_found(NOT_FOUND))?;
        let visible =
            self.class_visible(&w, sup, class) || (unscoped && class.cohort_id == sup.cohort_id);
        if !visible {
            return Err(self.out_of_scope(NOT_FOUND));
        }
        let course = w
            .courses
            .get(&class.class.course_id)
            .ok_or_else(|| Refusal::internal("class without course"))?;
        let organiser = w
            .orgs
            .get(&class.class.organiser_id)
            .ok_or_else(|| Refusal::internal("class without organiser"))?;
        let payee = if self.has(Defect::WrongPayee) {
            SubsidyPayee {
                organisation_id: "platform-operator".into(),
                name: self.operator.clone(),
                kind: OrganisationKind::Institution,
            }
        } else {
            // Pure online: the organising enterprise; blended: the organising institution
            // (createClass guarantees the organiser's kind).
            SubsidyPayee {
                organisation_id: organiser.id.clone(),
                name: organiser.name.clone(),
                kind: organiser.kind,
            }
        };
        debug_assert!(
            self.has(Defect::LabourDispatchAllowed)
                || match course.course.delivery {
                    Delivery::PureOnline => organiser.kind == OrganisationKind::Enterprise,
                    Delivery::Blended => organiser.kind == OrganisationKind::Institution,
                }
        );
        let required = self.captures_required();
        let ch = self.class_hour_seconds().max(1.0);
        let mut lines = Vec::new();
        let mut enrolments: Vec<&EnrolmentRec> = w
            .enrolments_by_class
            .get(class_id)
            .into_iter()
            .flatten()
            .filter_map(|e| w.enrolments.get(e))
            .collect();
        enrolments.sort_by(|a, b| a.enrolled_at.total_cmp(&b.enrolled_at));
        for e in enrolments {
            let Some(l) = w.learners.get(&e.learner_id) else {
                continue;
            };
            if !unscoped && !self.in_scope(&w, sup, l) {
                continue;
            }
            let progress = self.progress_view(&w, e);
            let credited = if self.has(Defect::ExportMiscounts) {
                course
                    .course
                    .lessons
                    .iter()
                    .filter_map(|les| w.progress.get(&progress_id(&e.id, &les.lesson_id)))
                    .map(LessonProg::watched)
                    .sum()
            } else {
                progress.credited_seconds
            };
            let completed = course
                .course
                .lessons
                .iter()
                .filter(|les| les.mode == LessonMode::Online)
                .all(|les| {
                    w.progress
                        .get(&progress_id(&e.id, &les.lesson_id))
                        .is_some_and(|p| p.completed(required))
                });
            let assessment = w
                .assessments
                .get(&e.id)
                .and_then(|v| {
                    v.iter()
                        .max_by(|a, b| a.assessed_at.total_cmp(&b.assessed_at))
                })
                .map(|a| a.result);
            lines.push(CompletionLine {
                learner_id: l.id.clone(),
                name: l.name.clone(),
                id_number_masked: crate::biometrics::mask_id_number(&l.id_number),
                credited_seconds: credited,
                class_hours: (credited / ch + 1e-9).floor().max(0.0) as u32,
                completed,
                assessment,
            });
        }
        Ok(CompletionExport {
            class_id: class.id.clone(),
            course_id: course.id.clone(),
            delivery: course.course.delivery,
            organiser_id: organiser.id.clone(),
            payee,
            generated_at: to_datetime(w.cohort_now(&class.cohort_id)),
            learners: lines,
        })
    }
}
