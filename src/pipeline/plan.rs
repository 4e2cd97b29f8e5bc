//! The pipeline's decisions, as pure functions: what to build, whether Lambda can take an image,
//! whether the function must change, and when it is ready. Side effects live in `run`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{Digest, FunctionInfo};

/// The steps of a deploy, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Fingerprint,
    Build,
    Push,
    Gate,
    Update,
    Record,
}

impl Step {
    pub const ALL: [Self; 6] = [
        Self::Fingerprint,
        Self::Build,
        Self::Push,
        Self::Gate,
        Self::Update,
        Self::Record,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Fingerprint => "fingerprint",
            Self::Build => "build",
            Self::Push => "push",
            Self::Gate => "gate",
            Self::Update => "update",
            Self::Record => "record",
        }
    }
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    Done,
    Skipped,
    Failed,
}

impl StepStatus {
    /// The word for the status; a failure is in capitals so it stands out without colour.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Skipped => "skipped",
            Self::Failed => "FAILED",
        }
    }
}

/// The ECR tag that names the image built from a fingerprint, so a later deploy of the same
/// inputs finds it without building. 24 hex digits (96 bits) make a collision unthinkable.
pub fn fingerprint_tag(fingerprint: &Digest) -> String {
    format!("fp-{}", &fingerprint.hex()[..24])
}

/// The label the built image carries its fingerprint in.
pub const FINGERPRINT_LABEL: &str = "lambdactl.fingerprint";

/// Docker's platform for a Lambda architecture.
pub fn platform_for(architecture: &str) -> Result<&'static str, String> {
    match architecture {
        "x86_64" => Ok("linux/amd64"),
        "arm64" => Ok("linux/arm64"),
        other => Err(format!(
            "unknown Lambda architecture {other:?}; expected x86_64 or arm64"
        )),
    }
}

/// Refuses an image built for another CPU than the function's: it would fail every invoke with
/// `Runtime.InvalidEntrypoint` (exec format error).
pub fn check_architecture(platform: &str, found_os: &str, found_arch: &str) -> Result<(), String> {
    let found = format!("{found_os}/{found_arch}");
    if found == platform {
        Ok(())
    } else {
        Err(format!(
            "the image was built for {found}, but the function runs {platform}; build with \
             --platform {platform} (lambdactl does by default) on an engine that supports it"
        ))
    }
}

/// Refuses manifests Lambda cannot run: an image index (a multi-platform list, or the index a
/// BuildKit build makes for its provenance attestations).
pub fn check_manifest_media_type(media_type: Option<&str>) -> Result<(), String> {
    const INDEXES: [&str; 2] = [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ];
    match media_type {
        Some(index) if INDEXES.contains(&index) => Err(format!(
            "the pushed image is an index ({index}), which Lambda refuses; build one platform \
             without attestations (with docker buildx: --provenance=false --sbom=false)"
        )),
        _ => Ok(()),
    }
}

/// What the gate decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// The function already runs this digest: nothing changes.
    UpToDate,
    /// The function runs something else (or nothing readable): update it.
    Update { previous: Option<Digest> },
}

/// Compares the candidate with what the function really runs (not with the tag text).
pub fn gate(candidate: &Digest, function: &FunctionInfo) -> Gate {
    match function.deployed_digest() {
        Some(deployed) if &deployed == candidate => Gate::UpToDate,
        previous => Gate::Update { previous },
    }
}

/// Whether the function can take a change now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Another change is in flight, or the function is waking: wait and read again.
    Wait(String),
    /// The function cannot take changes; the reason says why.
    Failed(String),
}

/// Reads `State` and `LastUpdateStatus`: a change must not start while another runs, and a
/// function that failed to create cannot be updated.
pub fn readiness(function: &FunctionInfo) -> Readiness {
    match (
        function.state.as_str(),
        function.last_update_status.as_str(),
    ) {
        ("Failed", _) => Readiness::Failed(with_reason(
            "the function is in state Failed",
            function.state_reason.as_deref(),
        )),
        ("Pending", _) => Readiness::Wait("the function is being created (Pending)".to_owned()),
        (_, "InProgress") => {
            Readiness::Wait("another update of the function is in progress".to_owned())
        }
        _ => Readiness::Ready,
    }
}

/// Where an update stands, read from the function after `UpdateFunctionCode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOutcome {
    InProgress,
    Successful,
    Failed(String),
}

/// Reads the outcome of an update that was accepted.
pub fn update_outcome(function: &FunctionInfo) -> UpdateOutcome {
    match function.last_update_status.as_str() {
        "Successful" => UpdateOutcome::Successful,
        "Failed" => {
            let reason = with_reason(
                "Lambda could not take the image (LastUpdateStatus Failed)",
                function.last_update_status_reason.as_deref(),
            );
            let hint = if reason.contains("ImageAccessDenied") || reason.contains("denied") {
                "; check that the ECR repository policy lets lambda.amazonaws.com pull \
                 (ecr:BatchGetImage, ecr:GetDownloadUrlForLayer)"
            } else {
                ""
            };
            UpdateOutcome::Failed(format!("{reason}{hint}"))
        }
        _ => UpdateOutcome::InProgress,
    }
}

fn with_reason(what: &str, reason: Option<&str>) -> String {
    match reason {
        Some(reason) if !reason.is_empty() => format!("{what}: {reason}"),
        _ => what.to_owned(),
    }
}

/// One line of the append-only deploy history: one object per deploy in the bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployRecord {
    pub time: DateTime<Utc>,
    pub function: String,
    pub digest: Digest,
    pub previous_digest: Option<Digest>,
    pub fingerprint: Option<Digest>,
    pub action: &'static str,
    pub user: String,
    pub host: String,
}

/// The folder of the history, beside the digest file.
pub const HISTORY_PREFIX: &str = "lambda-python/deploys/";

impl DeployRecord {
    /// The record's own key: time first, so a listing is in deploy order, and the digest, so two
    /// deploys in one millisecond cannot overwrite each other.
    pub fn key(&self) -> String {
        format!(
            "{HISTORY_PREFIX}{}-{}.json",
            self.time.format("%Y-%m-%dT%H-%M-%S%.3fZ"),
            self.digest.short()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(fill: char) -> Digest {
        Digest::from_hex(&fill.to_string().repeat(64)).unwrap()
    }

    fn function_on(digest: &Digest) -> FunctionInfo {
        FunctionInfo {
            state: "Active".into(),
            last_update_status: "Successful".into(),
            resolved_image_uri: Some(format!("1.dkr.ecr.eu-west-1.amazonaws.com/repo@{digest}")),
            ..FunctionInfo::default()
        }
    }

    #[test]
    fn the_gate_compares_with_what_the_function_runs() {
        let running = digest('a');
        assert_eq!(gate(&running, &function_on(&running)), Gate::UpToDate);
        assert_eq!(
            gate(&digest('b'), &function_on(&running)),
            Gate::Update {
                previous: Some(running.clone())
            }
        );
        // A tag in the URI text says nothing about what runs.
        let tagged = FunctionInfo {
            image_uri: Some("1.dkr.ecr.x/repo:latest".into()),
            ..FunctionInfo::default()
        };
        assert_eq!(gate(&running, &tagged), Gate::Update { previous: None });
    }

    #[test]
    fn indexes_are_refused_with_the_fix() {
        assert!(
            check_manifest_media_type(Some("application/vnd.docker.distribution.manifest.v2+json"))
                .is_ok()
        );
        assert!(
            check_manifest_media_type(Some("application/vnd.oci.image.manifest.v1+json")).is_ok()
        );
        let error =
            check_manifest_media_type(Some("application/vnd.oci.image.index.v1+json")).unwrap_err();
        assert!(error.contains("provenance=false"), "{error}");
    }

    #[test]
    fn a_foreign_cpu_is_refused_naming_both() {
        assert!(check_architecture("linux/amd64", "linux", "amd64").is_ok());
        let error = check_architecture("linux/amd64", "linux", "arm64").unwrap_err();
        assert!(
            error.contains("linux/arm64") && error.contains("linux/amd64"),
            "{error}"
        );
        assert_eq!(platform_for("arm64"), Ok("linux/arm64"));
        assert!(platform_for("mips").is_err());
    }

    #[test]
    fn readiness_waits_for_changes_in_flight_and_refuses_failed_functions() {
        let mut function = function_on(&digest('a'));
        assert_eq!(readiness(&function), Readiness::Ready);
        function.last_update_status = "InProgress".into();
        assert!(matches!(readiness(&function), Readiness::Wait(_)));
        function.state = "Pending".into();
        assert!(matches!(readiness(&function), Readiness::Wait(_)));
        function.state = "Failed".into();
        function.state_reason = Some("role cannot be assumed".into());
        assert!(
            matches!(readiness(&function), Readiness::Failed(reason) if reason.contains("role"))
        );
        function.state = "Inactive".into();
        function.last_update_status = "Successful".into();
        assert_eq!(
            readiness(&function),
            Readiness::Ready,
            "an update wakes an inactive function"
        );
    }

    #[test]
    fn a_failed_update_shows_its_reason_and_the_policy_fix() {
        let mut function = function_on(&digest('a'));
        function.last_update_status = "Failed".into();
        function.last_update_status_reason =
            Some("ImageAccessDenied: Lambda does not have permission".into());
        let UpdateOutcome::Failed(reason) = update_outcome(&function) else {
            panic!("not failed")
        };
        assert!(
            reason.contains("ImageAccessDenied") && reason.contains("repository policy"),
            "{reason}"
        );
        function.last_update_status = "InProgress".into();
        assert_eq!(update_outcome(&function), UpdateOutcome::InProgress);
    }

    #[test]
    fn history_keys_sort_by_time_and_never_collide() {
        let record = |digest: Digest| DeployRecord {
            time: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            function: "f".into(),
            digest,
            previous_digest: None,
            fingerprint: None,
            action: "deployed",
            user: "u".into(),
            host: "h".into(),
        };
        let first = record(digest('a')).key();
        assert!(
            first.starts_with("lambda-python/deploys/2023-11-14T22-13-20.000Z-"),
            "{first}"
        );
        assert_ne!(first, record(digest('b')).key());
        assert_eq!(
            fingerprint_tag(&digest('c')),
            format!("fp-{}", "c".repeat(24))
        );
    }
}
