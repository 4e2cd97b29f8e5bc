//! Invoking the function: payload checks, readiness, and a report that treats a function error
//! as a failure even though Lambda answers HTTP 200.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::aws::InvokeOutcome;
use crate::model::FunctionInfo;

/// The invoke view: what was sent and what came back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvokeView {
    pub sending: bool,
    pub asynchronous: bool,
    /// Said while the function is being created or woken.
    pub waking: Option<String>,
    pub started: Option<std::time::Instant>,
    pub took: Option<Duration>,
    /// The last answer, or why there is none (a bad payload, a refused call).
    pub result: Option<Result<InvokeReport, String>>,
    /// Payloads sent to this function before, newest first.
    pub history: Vec<String>,
    /// The saved payloads Ctrl-P offers.
    pub saved: Vec<super::payloads::SavedPayload>,
    /// Which saved payload, and which payload sent before, comes next.
    pub next_saved: usize,
    pub next_earlier: usize,
    /// A payload for the editor to take in place of its text, once.
    pub for_editor: Option<String>,
}

/// How much longer than the function itself the client waits for an answer.
const TIMEOUT_MARGIN: Duration = Duration::from_secs(10);
/// Lambda's default function timeout, for a configuration that does not say.
const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(3);

/// The client timeout for an invoke: the function's own timeout and a margin, so the client
/// never gives up on an invoke the function is still allowed to finish.
pub fn client_timeout(function: &FunctionInfo) -> Duration {
    let own = function
        .timeout_seconds
        .and_then(|seconds| u64::try_from(seconds).ok())
        .map_or(DEFAULT_FUNCTION_TIMEOUT, Duration::from_secs);
    own + TIMEOUT_MARGIN
}

/// Checks that a payload is JSON before it is sent, saying where it is not.
pub fn check_payload(text: &str) -> Result<Vec<u8>, String> {
    let trimmed = if text.trim().is_empty() { "{}" } else { text };
    serde_json::from_str::<Value>(trimmed)
        .map(|_| trimmed.as_bytes().to_vec())
        .map_err(|error| format!("the payload is not JSON: {error}"))
}

/// Whether the function can be invoked now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeReadiness {
    Ready,
    /// Being created, or waking after a long idle time: wait and look again.
    Waking(String),
    /// It cannot run; invoking would only fail.
    Failed(String),
}

/// Reads the function's state before an invoke (K05).
pub fn invoke_readiness(function: &FunctionInfo) -> InvokeReadiness {
    let reason = function
        .state_reason
        .as_deref()
        .unwrap_or("no reason given");
    match function.state.as_str() {
        "Failed" => InvokeReadiness::Failed(format!("the function is in state Failed: {reason}")),
        "Pending" => InvokeReadiness::Waking("the function is being created (Pending)".to_owned()),
        "Inactive" => {
            InvokeReadiness::Waking("the function is waking after being idle (Inactive)".to_owned())
        }
        _ => InvokeReadiness::Ready,
    }
}

/// The invoke's result as `invoke --output json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvokeReport {
    pub status_code: i32,
    pub function_error: Option<String>,
    pub executed_version: Option<String>,
    pub request_id: Option<String>,
    /// The response as JSON when it parses, else as text.
    pub payload: Value,
    pub log_tail: Option<String>,
    /// What Lambda reported about this invocation at the end of its log tail, when it is there.
    pub report: Option<ExecutionReport>,
}

/// What Lambda's `REPORT` line (or, with the JSON log format, its `platform.report` record)
/// says about one invocation: the function's own time and memory, not the round trip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionReport {
    pub duration_ms: f64,
    pub billed_duration_ms: Option<f64>,
    /// Only on a cold start: the time the runtime and the handler's module took to load.
    pub init_duration_ms: Option<f64>,
    pub memory_size_mb: Option<u64>,
    pub max_memory_used_mb: Option<u64>,
}

impl ExecutionReport {
    /// The last report in a log tail; only one for `request_id`, when it is known, so a tail
    /// that holds an earlier invocation's end never passes for this one's.
    pub fn from_log_tail(tail: &str, request_id: Option<&str>) -> Option<Self> {
        tail.lines().rev().find_map(|line| {
            Self::from_text_line(line, request_id)
                .or_else(|| Self::from_json_line(line, request_id))
        })
    }

    /// `REPORT RequestId: <id>\tDuration: 2.12 ms\tBilled Duration: 3 ms\tMemory Size: 128
    /// MB\tMax Memory Used: 39 MB\tInit Duration: 126.27 ms`, fields in any order.
    fn from_text_line(line: &str, request_id: Option<&str>) -> Option<Self> {
        let mut fields = line.strip_prefix("REPORT RequestId:")?.split('\t');
        let id = fields.next()?.trim();
        if request_id.is_some_and(|wanted| wanted != id) {
            return None;
        }
        let fields: Vec<(&str, &str)> = fields
            .filter_map(|field| {
                let (name, value) = field.split_once(':')?;
                Some((name.trim(), value.split_whitespace().next()?))
            })
            .collect();
        let value = |name: &str| {
            fields
                .iter()
                .find_map(|(known, value)| (*known == name).then_some(*value))
        };
        let millis = |name: &str| value(name).and_then(|text| text.parse::<f64>().ok());
        let megabytes = |name: &str| value(name).and_then(|text| text.parse::<u64>().ok());
        Some(Self {
            duration_ms: millis("Duration")?,
            billed_duration_ms: millis("Billed Duration"),
            init_duration_ms: millis("Init Duration"),
            memory_size_mb: megabytes("Memory Size"),
            max_memory_used_mb: megabytes("Max Memory Used"),
        })
    }

    /// `{"type": "platform.report", "record": {"requestId": …, "metrics": {"durationMs": …}}}`.
    fn from_json_line(line: &str, request_id: Option<&str>) -> Option<Self> {
        let line = line.trim();
        if !line.starts_with('{') {
            return None;
        }
        let value: Value = serde_json::from_str(line).ok()?;
        if value.get("type").and_then(Value::as_str) != Some("platform.report") {
            return None;
        }
        let record = value.get("record")?;
        let id = record.get("requestId").and_then(Value::as_str);
        if request_id.is_some_and(|wanted| id != Some(wanted)) {
            return None;
        }
        let metrics = record.get("metrics")?;
        let millis = |name: &str| metrics.get(name).and_then(Value::as_f64);
        let megabytes = |name: &str| metrics.get(name).and_then(Value::as_u64);
        Some(Self {
            duration_ms: millis("durationMs")?,
            billed_duration_ms: millis("billedDurationMs"),
            init_duration_ms: millis("initDurationMs"),
            memory_size_mb: megabytes("memorySizeMB"),
            max_memory_used_mb: megabytes("maxMemoryUsedMB"),
        })
    }

    /// One line for people: `ran 2.12 ms (billed 3 ms, cold start 126.27 ms), 39 of 128 MB`,
    /// the memory used of the memory size.
    pub fn summary(&self) -> String {
        let mut details = Vec::new();
        if let Some(billed) = self.billed_duration_ms {
            details.push(format!("billed {billed} ms"));
        }
        if let Some(init) = self.init_duration_ms {
            details.push(format!("cold start {init} ms"));
        }
        let details = if details.is_empty() {
            String::new()
        } else {
            format!(" ({})", details.join(", "))
        };
        let memory = match (self.max_memory_used_mb, self.memory_size_mb) {
            (Some(used), Some(size)) => format!(", {used} of {size} MB"),
            (Some(used), None) => format!(", {used} MB used"),
            _ => String::new(),
        };
        format!("ran {} ms{details}{memory}", self.duration_ms)
    }
}

/// What a failed function said about its failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionFailure {
    pub error_type: String,
    pub message: String,
    pub stack_trace: Vec<String>,
}

impl InvokeReport {
    pub fn from_outcome(outcome: InvokeOutcome) -> Self {
        let text = String::from_utf8_lossy(&outcome.payload).into_owned();
        let payload = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let report = outcome
            .log_tail
            .as_deref()
            .and_then(|tail| ExecutionReport::from_log_tail(tail, outcome.request_id.as_deref()));
        Self {
            status_code: outcome.status_code,
            function_error: outcome.function_error,
            executed_version: outcome.executed_version,
            request_id: outcome.request_id,
            payload,
            log_tail: outcome.log_tail,
            report,
        }
    }

    /// An invoke failed when Lambda says the function errored, whatever the HTTP status (K19),
    /// or when the status is not a success.
    pub fn failed(&self) -> bool {
        self.function_error.is_some() || !(200..300).contains(&self.status_code)
    }

    /// The error type, message and stack trace a failed function returned.
    pub fn failure(&self) -> Option<FunctionFailure> {
        if !self.failed() {
            return None;
        }
        let field = |name: &str| {
            self.payload
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let stack_trace = self
            .payload
            .get("stackTrace")
            .and_then(Value::as_array)
            .map(|frames| {
                frames
                    .iter()
                    .map(|frame| {
                        frame
                            .as_str()
                            .map_or_else(|| frame.to_string(), str::to_owned)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(FunctionFailure {
            error_type: field("errorType")
                .or_else(|| self.function_error.clone())
                .unwrap_or_else(|| format!("HTTP {}", self.status_code)),
            message: field("errorMessage").unwrap_or_default(),
            stack_trace,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(function_error: Option<&str>, payload: &str) -> InvokeOutcome {
        InvokeOutcome {
            status_code: 200,
            function_error: function_error.map(str::to_owned),
            executed_version: Some("$LATEST".into()),
            request_id: Some("r-1".into()),
            payload: payload.as_bytes().to_vec(),
            log_tail: Some("START RequestId: r-1\n".into()),
        }
    }

    #[test]
    fn a_function_error_with_http_200_is_a_failure_with_its_details() {
        let payload = r#"{"errorType":"KeyError","errorMessage":"'S3_BUCKET_NAME'","stackTrace":["  File \"/var/task/app.py\", line 9"]}"#;
        let report = InvokeReport::from_outcome(outcome(Some("Unhandled"), payload));
        assert!(report.failed());
        let failure = report.failure().unwrap();
        assert_eq!(failure.error_type, "KeyError");
        assert_eq!(failure.message, "'S3_BUCKET_NAME'");
        assert_eq!(failure.stack_trace.len(), 1);
    }

    #[test]
    fn a_success_keeps_its_json_and_a_text_answer_stays_text() {
        let report = InvokeReport::from_outcome(outcome(None, r#"{"statusCode":200}"#));
        assert!(!report.failed());
        assert_eq!(report.payload["statusCode"], 200);
        let text = InvokeReport::from_outcome(outcome(None, "plain words"));
        assert_eq!(text.payload, Value::String("plain words".into()));
        assert_eq!(text.failure(), None);
    }

    #[test]
    fn the_report_line_gives_the_functions_own_time_and_memory() {
        let tail = "START RequestId: r-1 Version: $LATEST\n\
                    END RequestId: r-1\n\
                    REPORT RequestId: r-1\tDuration: 2.12 ms\tBilled Duration: 3 ms\t\
                    Memory Size: 128 MB\tMax Memory Used: 39 MB\tInit Duration: 126.27 ms\t\n";
        let report = ExecutionReport::from_log_tail(tail, Some("r-1")).unwrap();
        assert_eq!(
            report,
            ExecutionReport {
                duration_ms: 2.12,
                billed_duration_ms: Some(3.0),
                init_duration_ms: Some(126.27),
                memory_size_mb: Some(128),
                max_memory_used_mb: Some(39),
            }
        );
        assert_eq!(
            report.summary(),
            "ran 2.12 ms (billed 3 ms, cold start 126.27 ms), 39 of 128 MB"
        );
        assert_eq!(
            ExecutionReport::from_log_tail(tail, Some("another")),
            None,
            "another invocation's report is not this one's"
        );
        let warm = "REPORT RequestId: r-2\tDuration: 0.9 ms\tBilled Duration: 1 ms\n";
        let warm = ExecutionReport::from_log_tail(warm, None).unwrap();
        assert_eq!(warm.summary(), "ran 0.9 ms (billed 1 ms)");
        assert_eq!(
            ExecutionReport::from_log_tail("REPORT RequestId: r-3\n", None),
            None
        );
        assert_eq!(
            ExecutionReport::from_log_tail("[INFO] REPORT\n", None),
            None
        );
    }

    #[test]
    fn the_json_log_formats_platform_report_counts_too() {
        let tail = r#"{"time":"2026-12-04T06:00:00.000Z","type":"platform.start","record":{"requestId":"r-1"}}
{"time":"2026-12-04T06:00:00.010Z","type":"platform.report","record":{"requestId":"r-1","metrics":{"durationMs":8.5,"billedDurationMs":9,"memorySizeMB":256,"maxMemoryUsedMB":70},"status":"success"}}
"#;
        let report = ExecutionReport::from_log_tail(tail, Some("r-1")).unwrap();
        assert_eq!(report.summary(), "ran 8.5 ms (billed 9 ms), 70 of 256 MB");
        assert_eq!(ExecutionReport::from_log_tail(tail, Some("r-2")), None);
    }

    #[test]
    fn payloads_are_checked_before_sending() {
        assert_eq!(check_payload("").unwrap(), b"{}");
        assert!(check_payload(r#"{"a": 1}"#).is_ok());
        let error = check_payload("{\"a\": }").unwrap_err();
        assert!(error.contains("line 1 column 7"), "{error}");
    }

    #[test]
    fn the_client_waits_longer_than_the_function_may_run() {
        let function = FunctionInfo {
            timeout_seconds: Some(30),
            ..FunctionInfo::default()
        };
        assert_eq!(client_timeout(&function), Duration::from_secs(40));
        assert_eq!(
            client_timeout(&FunctionInfo::default()),
            Duration::from_secs(13)
        );
    }

    #[test]
    fn pending_and_inactive_functions_wake_and_failed_ones_are_not_invoked() {
        let state = |state: &str| FunctionInfo {
            state: state.into(),
            ..FunctionInfo::default()
        };
        assert_eq!(invoke_readiness(&state("Active")), InvokeReadiness::Ready);
        assert!(matches!(
            invoke_readiness(&state("Pending")),
            InvokeReadiness::Waking(_)
        ));
        assert!(matches!(
            invoke_readiness(&state("Inactive")),
            InvokeReadiness::Waking(_)
        ));
        assert!(matches!(
            invoke_readiness(&state("Failed")),
            InvokeReadiness::Failed(_)
        ));
    }
}
