//! CloudWatch Logs: the function's log streams and events.

use chrono::{DateTime, Utc};

use super::{AwsClients, AwsError, sdk_error};
use crate::model::{LogEvent, LogStreamInfo, sort_streams_newest_first, time_from_millis};

/// Which events of a log group to fetch.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub since: Option<DateTime<Utc>>,
    pub filter_pattern: Option<String>,
    /// Stop after this many events; `None` reads every page.
    pub limit: Option<usize>,
    /// For a caller that polls and backs off itself: no retries inside the SDK.
    pub polling: bool,
}

impl AwsClients {
    /// Lists the log group's streams, the most recently written first.
    pub async fn list_log_streams(
        &self,
        log_group: &str,
        limit: i32,
    ) -> Result<Vec<LogStreamInfo>, AwsError> {
        let doing = format!("listing log streams of {log_group}");
        let output = self
            .logs
            .describe_log_streams()
            .log_group_name(log_group)
            .order_by(aws_sdk_cloudwatchlogs::types::OrderBy::LastEventTime)
            .descending(true)
            .limit(limit)
            .send()
            .await
            .map_err(|error| sdk_error(doing, &error))?;
        let mut streams: Vec<_> = output
            .log_streams()
            .iter()
            .filter_map(|stream| {
                Some(LogStreamInfo {
                    name: stream.log_stream_name()?.to_owned(),
                    last_event: stream
                        .last_event_timestamp()
                        .or(stream.creation_time())
                        .and_then(time_from_millis),
                    #[allow(deprecated, reason = "CloudWatch still fills it and it is only shown")]
                    stored_bytes: stream.stored_bytes(),
                })
            })
            .collect();
        // Sorting again keeps the order right where a stand-in ignores `orderBy`.
        sort_streams_newest_first(&mut streams);
        Ok(streams)
    }

    /// Reads the newest events of one stream, oldest first.
    pub async fn recent_stream_events(
        &self,
        log_group: &str,
        stream: &str,
        limit: i32,
    ) -> Result<Vec<LogEvent>, AwsError> {
        let doing = format!("reading log stream {stream}");
        let output = self
            .logs
            .get_log_events()
            .log_group_name(log_group)
            .log_stream_name(stream)
            .start_from_head(false)
            .limit(limit)
            .send()
            .await
            .map_err(|error| sdk_error(doing, &error))?;
        Ok(output
            .events()
            .iter()
            .filter_map(|event| {
                Some(LogEvent {
                    timestamp: event.timestamp().and_then(time_from_millis)?,
                    stream: stream.to_owned(),
                    message: event.message().unwrap_or_default().to_owned(),
                    event_id: None,
                })
            })
            .collect())
    }

    /// Reads the log group's events across all streams, in time order.
    pub async fn filter_events(
        &self,
        log_group: &str,
        query: &EventQuery,
    ) -> Result<Vec<LogEvent>, AwsError> {
        let doing = format!("reading events of {log_group}");
        let client = if query.polling {
            &self.logs_polling
        } else {
            &self.logs
        };
        let mut request = client.filter_log_events().log_group_name(log_group);
        if let Some(since) = query.since {
            request = request.start_time(since.timestamp_millis());
        }
        if let Some(pattern) = &query.filter_pattern {
            request = request.filter_pattern(pattern);
        }
        let mut pages = request.into_paginator().send();
        let mut events = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| sdk_error(&doing, &error))?;
            events.extend(page.events().iter().filter_map(|event| {
                Some(LogEvent {
                    timestamp: event.timestamp().and_then(time_from_millis)?,
                    stream: event.log_stream_name().unwrap_or_default().to_owned(),
                    message: event.message().unwrap_or_default().to_owned(),
                    event_id: event.event_id().map(str::to_owned),
                })
            }));
            if let Some(limit) = query.limit.filter(|&limit| events.len() >= limit) {
                events.truncate(limit);
                break;
            }
        }
        events.sort_by_key(|event| event.timestamp);
        Ok(events)
    }
}

/// One message of a live-tail session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveTailMessage {
    /// The service accepted the session.
    Started,
    /// The events ingested since the last update (about a second before), which carry no event
    /// id, and whether the service sampled them down (more than 500 a second).
    Update {
        events: Vec<LogEvent>,
        sampled: bool,
    },
}

/// An open `StartLiveTail` session. Dropping it drops the response body, which closes the HTTP
/// connection and with it the session on the service's side.
#[derive(Debug)]
pub struct LiveTailSession {
    output: aws_sdk_cloudwatchlogs::operation::start_live_tail::StartLiveTailOutput,
    doing: String,
}

impl LiveTailSession {
    /// The next message; `Ok(None)` once the service ended the session without an error.
    pub async fn next(&mut self) -> Result<Option<LiveTailMessage>, AwsError> {
        use aws_sdk_cloudwatchlogs::types::StartLiveTailResponseStream as Message;

        loop {
            let received = self
                .output
                .response_stream
                .recv()
                .await
                .map_err(|error| stream_error(&self.doing, &error))?;
            let message = match received {
                None => return Ok(None),
                Some(Message::SessionStart(_)) => LiveTailMessage::Started,
                Some(Message::SessionUpdate(update)) => LiveTailMessage::Update {
                    events: update
                        .session_results()
                        .iter()
                        .filter_map(|event| {
                            Some(LogEvent {
                                timestamp: event.timestamp().and_then(time_from_millis)?,
                                stream: event.log_stream_name().unwrap_or_default().to_owned(),
                                message: event.message().unwrap_or_default().to_owned(),
                                event_id: None,
                            })
                        })
                        .collect(),
                    sampled: update.session_metadata().is_some_and(
                        aws_sdk_cloudwatchlogs::types::LiveTailSessionMetadata::sampled,
                    ),
                },
                // A kind of message this SDK does not know yet carries nothing to show.
                Some(_) => continue,
            };
            return Ok(Some(message));
        }
    }
}

/// An error inside a live-tail stream: the service's code (`SessionTimeoutException` after
/// three hours, `SessionStreamingException`) when it sent one, else the transport's cause.
fn stream_error<E, R>(
    doing: &str,
    error: &aws_sdk_cloudwatchlogs::error::SdkError<E, R>,
) -> AwsError
where
    E: aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    use aws_sdk_cloudwatchlogs::error::SdkError;

    match error {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            AwsError {
                doing: doing.to_owned(),
                code: inner.code().map(str::to_owned),
                message: inner
                    .message()
                    .map_or_else(|| inner.to_string(), str::to_owned),
                request_id: None,
            }
        }
        _ => AwsError::new(doing, super::cause_chain(error)),
    }
}

/// Removes the `stream-` host prefix the SDK puts before the endpoint of `StartLiveTail`. A
/// custom endpoint (the sandbox, a private gateway) serves every operation on its own host;
/// with the prefix the sandbox's `127.0.0.1` would become the unresolvable `stream-127.0.0.1`.
/// It runs once the endpoint is applied and before signing, so the signature covers the host
/// the request goes to.
#[derive(Debug)]
struct WithoutHostPrefix;

impl aws_sdk_cloudwatchlogs::config::Intercept for WithoutHostPrefix {
    fn name(&self) -> &'static str {
        "WithoutHostPrefix"
    }

    fn modify_before_signing(
        &self,
        context: &mut aws_sdk_cloudwatchlogs::config::interceptors::BeforeTransmitInterceptorContextMut<'_>,
        _components: &aws_sdk_cloudwatchlogs::config::RuntimeComponents,
        _cfg: &mut aws_sdk_cloudwatchlogs::config::ConfigBag,
    ) -> Result<(), aws_sdk_cloudwatchlogs::error::BoxError> {
        let request = context.request_mut();
        if let Some((scheme, host)) = request.uri().split_once("://stream-") {
            let uri = format!("{scheme}://{host}");
            request.set_uri(uri)?;
        }
        Ok(())
    }
}

/// Why no live-tail session started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTailUnavailable {
    pub error: AwsError,
    /// Whether the endpoint answered (a refusal such as `LimitExceededException` or
    /// `AccessDeniedException`, or an endpoint without the operation), rather than the request
    /// not getting through at all.
    pub answered: bool,
}

/// Keeps an SDK error whole as [`sdk_error`] does, and notes whether the endpoint answered. An
/// answer without an error code (an HTML error page from a stand-in that lacks the operation)
/// is named by its HTTP status, since the SDK can only call it "unhandled error".
fn unavailable<E>(
    doing: &str,
    error: &aws_sdk_cloudwatchlogs::error::SdkError<E>,
) -> LiveTailUnavailable
where
    E: aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    use aws_sdk_cloudwatchlogs::error::SdkError;

    let mut converted = sdk_error(doing, error);
    if let SdkError::ServiceError(service) = error
        && converted.code.is_none()
    {
        converted.message = format!(
            "HTTP {}, no error code: not offered here",
            service.raw().status().as_u16()
        );
    }
    LiveTailUnavailable {
        error: converted,
        answered: matches!(
            error,
            SdkError::ServiceError(_) | SdkError::ResponseError(_)
        ),
    }
}

impl AwsClients {
    /// Opens a live-tail session on the log group, with the SDK's retries off: the follower
    /// falls back and retries by itself. `StartLiveTail` takes the group's ARN (without the
    /// `:*` that `DescribeLogGroups` adds to its `arn`), looked up here each time, since a
    /// session is opened rarely and the group may have been created again. The session lasts
    /// until it is dropped, the service ends it (after three hours) or the connection fails.
    pub async fn start_live_tail(
        &self,
        log_group: &str,
        filter_pattern: Option<&str>,
    ) -> Result<LiveTailSession, LiveTailUnavailable> {
        let doing = format!("looking up the ARN of {log_group}");
        let groups = self
            .logs_polling
            .describe_log_groups()
            .log_group_name_prefix(log_group)
            .send()
            .await
            .map_err(|error| unavailable(&doing, &error))?;
        let arn = groups
            .log_groups()
            .iter()
            .find(|group| group.log_group_name() == Some(log_group))
            .and_then(|group| group.log_group_arn().or(group.arn()))
            .map(|arn| arn.trim_end_matches(":*").to_owned())
            .ok_or_else(|| LiveTailUnavailable {
                error: AwsError {
                    code: Some("ResourceNotFoundException".to_owned()),
                    ..AwsError::new(&doing, "the log group does not exist")
                },
                answered: true,
            })?;

        let doing = format!("live tail of {log_group}");
        let request = self
            .logs_polling
            .start_live_tail()
            .log_group_identifiers(arn)
            .set_log_event_filter_pattern(filter_pattern.map(str::to_owned));
        let output = if self.endpoint_url.is_some() {
            request
                .customize()
                .interceptor(WithoutHostPrefix)
                .send()
                .await
        } else {
            request.send().await
        };
        let output = output.map_err(|error| unavailable(&doing, &error))?;
        Ok(LiveTailSession { output, doing })
    }
}
