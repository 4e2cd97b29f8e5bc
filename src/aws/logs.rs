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
