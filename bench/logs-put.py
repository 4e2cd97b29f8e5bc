"""Writes, counts and removes the benchmark's log events in the sandbox (for bench/logs).

    logs-put.py write N      N events over 5 Lambda-style streams, timestamps spread over five
                             minutes ending nine minutes ago, in PutLogEvents batches of at most
                             10,000 events and 1 MB
    logs-put.py count        events of the log group in the last 2 hours: all, and the benchmark's
    logs-put.py delete       removes the benchmark's streams

Talks only to the endpoint in AWS_ENDPOINT_URL, which must be on the loopback interface.
"""

import os
import sys
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import urlparse

import boto3

LOG_GROUP = "/aws/lambda/python-lambda"
STREAMS = 5
# What CloudWatch counts against the 1 MB limit of one PutLogEvents: the message's UTF-8 bytes
# and 26 bytes for each event.
MAX_BATCH_BYTES = 1_048_576
MAX_BATCH_EVENTS = 10_000
EVENT_OVERHEAD = 26
# The marker that each benchmark event's message carries, and its streams' names.
MARKER = "bench-event"
STREAM_MARK = "]bench"


def client():
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    host = urlparse(endpoint).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"refusing to write to {endpoint}: not the loopback sandbox")
    return boto3.client("logs", endpoint_url=endpoint, region_name=os.environ["AWS_REGION"])


def iso(millis):
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f"
    )[:-3] + "Z"


def batches(events):
    """Splits time-ordered events into PutLogEvents-sized requests."""
    batch, size = [], 0
    for event in events:
        cost = len(event["message"].encode()) + EVENT_OVERHEAD
        if batch and (len(batch) == MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += cost
    if batch:
        yield batch


def write(total):
    logs = client()
    now = int(time.time() * 1000)
    first, span = now - 14 * 60_000, 5 * 60_000
    day = time.strftime("%Y/%m/%d", time.gmtime())
    names = [f"{day}/[$LATEST]bench{uuid.uuid4().hex[:27]}" for _ in range(STREAMS)]
    per_stream = [[] for _ in names]
    for n in range(total):
        at = first + n * span // max(total, 1)
        request = uuid.UUID(int=n // 4 + 1)
        message = (
            f"[INFO]\t{iso(at)}\t{request}\t{MARKER} {n} order {n % 977} "
            f"processed in {n % 300} ms\n"
        )
        per_stream[n % STREAMS].append({"timestamp": at, "message": message})
    requests = 0
    started = time.monotonic()
    for name, events in zip(names, per_stream):
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=name)
        for batch in batches(events):
            answer = logs.put_log_events(
                logGroupName=LOG_GROUP, logStreamName=name, logEvents=batch
            )
            if answer.get("rejectedLogEventsInfo"):
                sys.exit(f"events rejected: {answer['rejectedLogEventsInfo']}")
            requests += 1
    print(
        f"wrote {total} events to {STREAMS} streams in {requests} PutLogEvents calls "
        f"({time.monotonic() - started:.1f} s), timestamps {iso(first)} .. {iso(first + span)}"
    )


def count():
    logs = client()
    start = int((time.time() - 2 * 3600) * 1000)
    total = marked = 0
    token = None
    while True:
        kwargs = {"logGroupName": LOG_GROUP, "startTime": start}
        if token:
            kwargs["nextToken"] = token
        page = logs.filter_log_events(**kwargs)
        for event in page["events"]:
            total += 1
            marked += MARKER in event["message"]
        token = page.get("nextToken")
        if not token:
            break
    print(total, marked)


def delete():
    logs = client()
    pages = logs.get_paginator("describe_log_streams").paginate(logGroupName=LOG_GROUP)
    for page in pages:
        for stream in page["logStreams"]:
            if STREAM_MARK in stream["logStreamName"]:
                logs.delete_log_stream(
                    logGroupName=LOG_GROUP, logStreamName=stream["logStreamName"]
                )


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "write" and len(sys.argv) == 3:
        write(int(sys.argv[2]))
    elif command == "count":
        count()
    elif command == "delete":
        delete()
    else:
        sys.exit(__doc__)
