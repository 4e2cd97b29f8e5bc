//! The console's side of a deploy: the confirm dialog, each step as the pipeline reports it, the
//! push progress and the build log.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::model::Digest;
use crate::pipeline::plan::{Step, StepStatus};
use crate::pipeline::run::{DeployReport, Event};

/// How many build log lines the deploy view keeps.
pub const LOG_LINES: usize = 2_000;

/// A question the console asks before it changes the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialog {
    /// Deploy an older image from the Images pane.
    Rollback {
        to: Digest,
        tags: Vec<String>,
        from: Option<Digest>,
    },
}

/// One step's row.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    pub step: Step,
    pub status: StepStatus,
    pub detail: String,
    pub started: Option<Instant>,
    pub took: Option<Duration>,
}

impl StepRow {
    /// Time spent so far, or in all, on this step.
    pub fn elapsed(&self, now: Instant) -> Option<Duration> {
        self.took
            .or_else(|| self.started.map(|started| now - started))
    }
}

/// A deploy that runs, or ran, in the console.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployView {
    pub title: String,
    pub steps: Vec<StepRow>,
    pub log: VecDeque<String>,
    /// The push's latest progress: what, bytes or layers done, and of how many.
    pub progress: Option<(String, u64, u64)>,
    /// The gate found a change and waits for a yes: from which digest to which.
    pub awaiting: Option<(Option<Digest>, Digest)>,
    /// Set when the pipeline finished, whatever the outcome.
    pub report: Option<DeployReport>,
}

impl DeployView {
    pub fn new(title: impl Into<String>) -> Self {
        let steps = Step::ALL
            .iter()
            .map(|&step| StepRow {
                step,
                status: StepStatus::Pending,
                detail: String::new(),
                started: None,
                took: None,
            })
            .collect();
        Self {
            title: title.into(),
            steps,
            log: VecDeque::new(),
            progress: None,
            awaiting: None,
            report: None,
        }
    }

    pub fn is_running(&self) -> bool {
        self.report.is_none()
    }

    /// Applies one pipeline event.
    pub fn apply(&mut self, event: Event, now: Instant) {
        match event {
            Event::Step {
                step,
                status,
                detail,
            } => {
                if let Some(row) = self.steps.iter_mut().find(|row| row.step == step) {
                    match status {
                        StepStatus::Running => row.started = Some(now),
                        _ => row.took = row.started.map(|started| now - started),
                    }
                    row.status = status;
                    row.detail = detail;
                }
                if step == Step::Push && status != StepStatus::Running {
                    self.progress = None;
                }
            }
            Event::Log { line, .. } => {
                if self.log.len() == LOG_LINES {
                    self.log.pop_front();
                }
                self.log.push_back(line);
            }
            Event::Progress {
                label,
                current,
                total,
                ..
            } => self.progress = Some((label, current, total)),
            Event::AwaitingApproval { from, to } => self.awaiting = Some((from, to)),
        }
    }

    /// Takes the final report; the steps' statuses are the report's, which also says how a
    /// failed step ended.
    pub fn finish(&mut self, report: DeployReport) {
        self.awaiting = None;
        self.progress = None;
        for row in &mut self.steps {
            if let Some(reported) = report
                .steps
                .iter()
                .find(|step| step.name == row.step.name())
            {
                row.status = reported.status;
                row.detail.clone_from(&reported.detail);
                // The pipeline timed the step where it ran; events may reach the view late.
                row.took = Some(Duration::from_secs_f64(reported.seconds.max(0.0)));
            }
        }
        self.report = Some(report);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_take_their_status_and_time_from_events() {
        let mut view = DeployView::new("deploy");
        let start = Instant::now();
        view.apply(
            Event::Step {
                step: Step::Build,
                status: StepStatus::Running,
                detail: "x".into(),
            },
            start,
        );
        view.apply(
            Event::Log {
                step: Step::Build,
                line: "Step 1/9".into(),
            },
            start,
        );
        let later = start + Duration::from_secs(3);
        view.apply(
            Event::Step {
                step: Step::Build,
                status: StepStatus::Done,
                detail: "built".into(),
            },
            later,
        );
        let build = &view.steps[1];
        assert_eq!(build.status, StepStatus::Done);
        assert_eq!(
            build.elapsed(later + Duration::from_secs(9)),
            Some(Duration::from_secs(3))
        );
        assert_eq!(view.log, ["Step 1/9"]);
        assert!(view.is_running());
    }

    #[test]
    fn the_build_log_is_bounded() {
        let mut view = DeployView::new("deploy");
        for n in 0..LOG_LINES + 5 {
            view.apply(
                Event::Log {
                    step: Step::Build,
                    line: n.to_string(),
                },
                Instant::now(),
            );
        }
        assert_eq!(view.log.len(), LOG_LINES);
        assert_eq!(view.log.front().map(String::as_str), Some("5"));
    }
}
