//! Lambda: the function's configuration and code location.

use aws_sdk_lambda::operation::get_function::GetFunctionOutput;

use super::{AwsClients, AwsError, sdk_error};
use crate::model::FunctionInfo;

/// The environment variable the handler reads its bucket from.
const BUCKET_VARIABLE: &str = "S3_BUCKET_NAME";

impl AwsClients {
    /// Reads the function's configuration and where its image comes from.
    pub async fn get_function(&self, name: &str) -> Result<FunctionInfo, AwsError> {
        let doing = format!("reading function {name}");
        let output = self
            .lambda
            .get_function()
            .function_name(name)
            .send()
            .await
            .map_err(|error| sdk_error(doing, &error))?;
        Ok(function_info(name, &output))
    }
}

fn function_info(name: &str, output: &GetFunctionOutput) -> FunctionInfo {
    let code = output.code();
    let Some(config) = output.configuration() else {
        return FunctionInfo {
            name: name.to_owned(),
            ..FunctionInfo::default()
        };
    };
    let text = |value: Option<&str>| value.map(str::to_owned);
    FunctionInfo {
        name: config.function_name().unwrap_or(name).to_owned(),
        arn: config.function_arn().unwrap_or_default().to_owned(),
        package_type: config
            .package_type()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        state: config
            .state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        state_reason: text(config.state_reason()),
        last_update_status: config
            .last_update_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        last_update_status_reason: text(config.last_update_status_reason()),
        revision_id: text(config.revision_id()),
        image_uri: text(code.and_then(|c| c.image_uri())),
        resolved_image_uri: text(code.and_then(|c| c.resolved_image_uri())),
        code_sha256: text(config.code_sha256()),
        architectures: config
            .architectures()
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect(),
        bucket_variable: config
            .environment()
            .and_then(|env| env.variables())
            .and_then(|vars| vars.get(BUCKET_VARIABLE).cloned()),
        log_group: text(config.logging_config().and_then(|l| l.log_group())),
        timeout_seconds: config.timeout(),
        memory_mb: config.memory_size(),
    }
}

impl AwsClients {
    /// Points the function at an image, guarded by the revision the caller read: if anyone
    /// changed the function since, Lambda refuses instead of overwriting their change.
    pub async fn update_function_image(
        &self,
        name: &str,
        image_uri: &str,
        revision_id: Option<&str>,
    ) -> Result<(), AwsError> {
        let doing = format!("updating the code of function {name}");
        self.lambda
            .update_function_code()
            .function_name(name)
            .image_uri(image_uri)
            .set_revision_id(revision_id.map(str::to_owned))
            .send()
            .await
            .map_err(|error| sdk_error(doing, &error))?;
        Ok(())
    }
}

/// What Lambda answered to one invoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeOutcome {
    pub status_code: i32,
    /// `Handled` or `Unhandled` when the function failed; the HTTP status is still 200 then.
    pub function_error: Option<String>,
    pub executed_version: Option<String>,
    pub request_id: Option<String>,
    pub payload: Vec<u8>,
    /// The last 4 KB of the invocation's log, decoded.
    pub log_tail: Option<String>,
}

impl AwsClients {
    /// Invokes once. Retries are off: an invoke that reached the function must never run twice
    /// by accident. The client waits `timeout`, which the caller sets above the function's.
    pub async fn invoke(
        &self,
        name: &str,
        payload: Vec<u8>,
        asynchronous: bool,
        timeout: std::time::Duration,
    ) -> Result<InvokeOutcome, AwsError> {
        use aws_sdk_lambda::config::retry::RetryConfig;
        use aws_sdk_lambda::config::timeout::TimeoutConfig;
        use aws_sdk_lambda::operation::RequestId as _;
        use aws_sdk_lambda::types::{InvocationType, LogType};
        use base64::Engine as _;

        let doing = format!("invoking function {name}");
        let mut request = self
            .lambda
            .invoke()
            .function_name(name)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload));
        request = if asynchronous {
            request.invocation_type(InvocationType::Event)
        } else {
            request
                .invocation_type(InvocationType::RequestResponse)
                .log_type(LogType::Tail)
        };
        let once = aws_sdk_lambda::config::Builder::default()
            .retry_config(RetryConfig::disabled())
            .timeout_config(TimeoutConfig::builder().operation_timeout(timeout).build());
        let output = request
            .customize()
            .config_override(once)
            .send()
            .await
            .map_err(|error| sdk_error(doing, &error))?;
        let log_tail = output.log_result().and_then(|encoded| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        });
        Ok(InvokeOutcome {
            status_code: output.status_code(),
            function_error: output.function_error().map(str::to_owned),
            executed_version: output.executed_version().map(str::to_owned),
            request_id: output.request_id().map(str::to_owned),
            payload: output
                .payload()
                .map(|blob| blob.as_ref().to_vec())
                .unwrap_or_default(),
            log_tail,
        })
    }
}
