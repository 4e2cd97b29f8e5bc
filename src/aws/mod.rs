//! Thin clients for the AWS services lambdactl reads. They return the project's own types and
//! keep every SDK error whole: what was being done, the service code, message and request id.

mod ecr;
mod lambda;
mod logs;
mod s3;

use std::fmt;
use std::time::Duration;

use aws_sdk_lambda::config::ProvideCredentials;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::RequestId;

pub use ecr::{ImageId, decode_token};
pub use lambda::InvokeOutcome;
pub use logs::{EventQuery, LiveTailMessage, LiveTailSession, LiveTailUnavailable};
pub use s3::DIGEST_KEY;

/// An AWS call that failed, with enough to act on: what lambdactl was doing, and the service's
/// own code, message and request id when the service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub doing: String,
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

impl AwsError {
    fn new(doing: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            doing: doing.into(),
            code: None,
            message: message.into(),
            request_id: None,
        }
    }

    /// Whether the service refused because the resource is being changed (HTTP 409).
    pub fn is_conflict(&self) -> bool {
        self.code.as_deref() == Some("ResourceConflictException")
    }

    /// Whether the service asked to slow down.
    pub fn is_throttling(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|code| code.contains("Throttling") || code == "TooManyRequestsException")
    }

    /// Whether the service said the named thing does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|code| code.contains("NotFound") || code == "NoSuchKey")
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.doing)?;
        if let Some(code) = &self.code {
            write!(f, "{code}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for AwsError {}

/// Turns an SDK error into an [`AwsError`], keeping the service's code, message and request id.
/// Errors that never reached the service (no credentials, no network) keep their whole cause
/// chain, since the top-level text alone ("dispatch failure") says nothing useful.
pub(crate) fn sdk_error<E, R>(doing: impl Into<String>, error: &SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
    SdkError<E, R>: RequestId,
{
    let request_id = error.request_id().map(str::to_owned);
    match error {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            AwsError {
                doing: doing.into(),
                code: inner.code().map(str::to_owned),
                message: inner
                    .message()
                    .map_or_else(|| inner.to_string(), str::to_owned),
                request_id,
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => AwsError {
            request_id,
            ..AwsError::new(
                doing,
                format!(
                    "{}; check the network and the endpoint (--endpoint-url, AWS_ENDPOINT_URL); \
                     for the sandbox: lambdactl sandbox up, then eval \"$(lambdactl sandbox env)\"",
                    cause_chain(error)
                ),
            )
        },
        _ => AwsError {
            request_id,
            ..AwsError::new(doing, cause_chain(error))
        },
    }
}

/// Turns "the service says it does not exist" into `Ok(None)`, for look-ups where absence is
/// an answer rather than a failure.
fn absent_if_not_found<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error),
    }
}

/// The messages of an error and its causes, joined, without the SDK's debug dump. A cause
/// whose text an earlier one already holds is left out; an overlong chain keeps its first and
/// last links, which name what failed and why.
pub fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(link) = current {
        let text = link.to_string();
        if !text.is_empty() && !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = link.source();
    }
    if parts.len() > 3 && parts.iter().map(String::len).sum::<usize>() > 240 {
        let last = parts.pop().unwrap_or_default();
        parts.truncate(1);
        parts.push("…".to_owned());
        parts.push(last);
    }
    parts.join(": ")
}

/// Where the SDK should connect: `None` fields leave the decision to the standard AWS chain
/// (environment, profile files, SSO), exactly as the AWS CLI reads it.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// Fixed keys, used only for the sandbox, whose stand-ins accept placeholder keys.
    pub static_keys: Option<(String, String)>,
}

/// The service clients of one session, built from one shared SDK configuration.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub lambda: aws_sdk_lambda::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub s3: aws_sdk_s3::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// The same service without the SDK's own retries, for polling loops that back off
    /// themselves: retries underneath would keep hitting a throttled API.
    logs_polling: aws_sdk_cloudwatchlogs::Client,
    credentials: Option<aws_sdk_lambda::config::SharedCredentialsProvider>,
    region: Option<String>,
    endpoint_url: Option<String>,
}

impl AwsClients {
    /// Loads the SDK configuration from the AWS chain with lambdactl's overrides on top.
    pub async fn connect(connection: &Connection) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &connection.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &connection.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &connection.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some((key_id, secret)) = &connection.static_keys {
            let keys =
                aws_sdk_lambda::config::Credentials::new(key_id, secret, None, None, "static");
            loader = loader.credentials_provider(keys);
        }
        let shared = loader.load().await;

        // A custom endpoint is a local stand-in or a private gateway; neither resolves
        // bucket-name subdomains, so S3 must name the bucket in the path there.
        let s3_config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(shared.endpoint_url().is_some())
            .build();
        Self {
            lambda: aws_sdk_lambda::Client::new(&shared),
            ecr: aws_sdk_ecr::Client::new(&shared),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&shared),
            logs_polling: aws_sdk_cloudwatchlogs::Client::from_conf(
                aws_sdk_cloudwatchlogs::config::Builder::from(&shared)
                    .retry_config(aws_sdk_cloudwatchlogs::config::retry::RetryConfig::disabled())
                    .build(),
            ),
            credentials: shared.credentials_provider(),
            region: shared.region().map(ToString::to_string),
            endpoint_url: shared.endpoint_url().map(str::to_owned),
        }
    }

    /// The region the clients talk to, if the chain named one.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The custom endpoint, when one is configured (the sandbox, or a private gateway).
    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
    }

    /// Resolves credentials once, up front, so a missing or expired login shows as one readable
    /// line instead of a "dispatch failure" on every pane.
    pub async fn check_credentials(&self, profile: Option<&str>) -> Result<(), AwsError> {
        let doing = "resolving AWS credentials";
        if self.region.is_none() {
            return Err(AwsError::new(
                doing,
                "no region configured; pass --region, set AWS_REGION, or set one in the profile",
            ));
        }
        let Some(provider) = &self.credentials else {
            return Err(AwsError::new(
                doing,
                "no credentials provider is configured",
            ));
        };
        let resolved =
            tokio::time::timeout(Duration::from_secs(20), provider.provide_credentials());
        match resolved.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => {
                let profile = profile
                    .map(str::to_owned)
                    .or_else(|| std::env::var("AWS_PROFILE").ok());
                let login = profile.map_or_else(
                    || {
                        "no credentials were found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and \
                         AWS_SECRET_ACCESS_KEY), or run `aws configure`"
                            .to_owned()
                    },
                    |name| {
                        format!(
                            "profile {name} gave no credentials: run `aws sso login --profile \
                             {name}` for an SSO profile, or `aws configure --profile {name}`"
                        )
                    },
                );
                Err(AwsError::new(
                    doing,
                    format!("{login} ({})", cause_chain(&error)),
                ))
            }
            Err(_) => Err(AwsError::new(doing, "timed out after 20 s")),
        }
    }
}
