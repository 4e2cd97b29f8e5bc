"""Lambda function: fetch JSON from an HTTP API and store it in S3.

Configuration comes from environment variables:

* ``S3_BUCKET_NAME`` (required): bucket that receives the data.
* ``API_URL``: where to GET the JSON (default: the public placeholder API).
* ``API_TIMEOUT_SECONDS``: connect/read timeout for that GET (default 10).

Each run writes one object named
``data-YYYY-MM-DD_HH-MM-SS-ffffff-<8 hex>.json`` (UTC). The leading fixed-width
time makes lexical key order equal time order, and the hex suffix keeps two
runs in the same microsecond from overwriting each other.

The handler never raises: failures are logged and answered with an error
status, 502 when the upstream API misbehaves and 500 for everything on our
side (configuration, S3).
"""

import json
import logging
import os
import uuid
from datetime import datetime, timezone

import boto3
import requests

DEFAULT_API_URL = "https://jsonplaceholder.typicode.com/todos/1"
DEFAULT_TIMEOUT_SECONDS = 10.0

# The Lambda runtime already attaches a handler to the root logger, so
# basicConfig is a no-op there; elsewhere (local runs) it makes INFO visible.
logging.basicConfig(level=logging.INFO)
logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

# Created on first use rather than at import, so the module imports without
# any AWS configuration (tests, tooling), then reused while the container is
# warm. boto3 itself honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3.
_s3_client = None


class HandlerError(Exception):
    """A failure we expect and can describe; carries the status to return."""

    def __init__(self, status_code, message):
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def _s3():
    global _s3_client
    if _s3_client is None:
        _s3_client = boto3.client("s3")
    return _s3_client


def _utcnow():
    # Separate function so tests can freeze the clock.
    return datetime.now(timezone.utc)


def _unique_suffix(context):
    """8 hex digits: from the request id when there is one, so the key can be
    matched with the invocation's log lines, otherwise random."""
    request_id = getattr(context, "aws_request_id", None)
    try:
        return uuid.UUID(str(request_id)).hex[:8]
    except ValueError:
        return uuid.uuid4().hex[:8]


def make_key(now, suffix):
    # Every field is zero-padded and fixed width, so string order == time order.
    return f"data-{now:%Y-%m-%d_%H-%M-%S}-{now:%f}-{suffix}.json"


def _timeout_seconds():
    raw = os.environ.get("API_TIMEOUT_SECONDS", "")
    if not raw:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:  # also rejects NaN
        raise HandlerError(500, f"API_TIMEOUT_SECONDS must be a positive number, got {raw!r}")
    return value


def fetch_json(url, timeout):
    """GET the URL and return the decoded JSON, mapping every way the API can
    let us down to a 502 with a short message."""
    try:
        response = requests.get(url, timeout=timeout, headers={"Accept": "application/json"})
        response.raise_for_status()
    except requests.Timeout:
        raise HandlerError(502, f"API timed out after {timeout:g}s: {url}") from None
    except requests.HTTPError as error:
        raise HandlerError(502, f"API returned HTTP {error.response.status_code}: {url}") from None
    except requests.RequestException as error:
        raise HandlerError(502, f"API request failed ({type(error).__name__}): {url}") from None
    try:
        return response.json()
    except ValueError:  # requests' JSONDecodeError is a ValueError
        raise HandlerError(502, f"API did not return valid JSON: {url}") from None


def lambda_handler(event, context):
    try:
        bucket = os.environ.get("S3_BUCKET_NAME", "").strip()
        if not bucket:
            raise HandlerError(500, "S3_BUCKET_NAME is not set")
        url = os.environ.get("API_URL", "").strip() or DEFAULT_API_URL
        timeout = _timeout_seconds()

        data = fetch_json(url, timeout)
        body = json.dumps(data).encode("utf-8")
        logger.info("Fetched %d bytes of JSON from %s", len(body), url)

        key = make_key(_utcnow(), _unique_suffix(context))
        try:
            _s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        except Exception as error:  # botocore ClientError, credentials, endpoint...
            raise HandlerError(500, f"Could not write s3://{bucket}/{key}: {error}") from error
        logger.info("Wrote s3://%s/%s", bucket, key)

        return {"statusCode": 200, "body": json.dumps({"bucket": bucket, "key": key})}
    except HandlerError as error:
        # Expected failure: the message says it all; add the traceback only when
        # there is an underlying exception worth seeing (e.g. from S3).
        logger.error("%s", error.message, exc_info=error.__cause__ is not None)
        return _error(error.status_code, error.message)
    except Exception:
        # Anything unforeseen: keep the full traceback in CloudWatch, but still
        # answer rather than raise, as promised.
        logger.exception("Unexpected error")
        return _error(500, "Internal error, see the function's logs")


def _error(status_code, message):
    return {"statusCode": status_code, "body": json.dumps({"error": message})}
