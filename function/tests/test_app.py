import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

import app
from conftest import BUCKET, TODO, keys_in

KEY_PATTERN = re.compile(r"^data-\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}-\d{6}-[0-9a-f]{8}\.json$")


def invoke(context=None):
    return app.lambda_handler({}, context)


def body_of(result):
    return json.loads(result["body"])


def freeze_clock(monkeypatch, *times):
    """Make the handler see the given UTC times, one per call."""
    remaining = iter(times)
    monkeypatch.setattr(app, "_utcnow", lambda: next(remaining))


def context_with(request_id):
    return SimpleNamespace(aws_request_id=request_id)


# --- success -----------------------------------------------------------------


def test_success_writes_the_fetched_json_to_one_object(s3, api, monkeypatch, caplog):
    monkeypatch.setenv("API_URL", f"{api}/todo")
    caplog.set_level("INFO")

    result = invoke()

    assert result["statusCode"] == 200
    body = body_of(result)
    assert body["bucket"] == BUCKET
    assert KEY_PATTERN.match(body["key"]), body["key"]
    assert keys_in(s3) == [body["key"]]
    stored = s3.get_object(Bucket=BUCKET, Key=body["key"])
    assert stored["ContentType"] == "application/json"
    assert json.loads(stored["Body"].read()) == TODO
    # CloudWatch should show what was fetched and where it went.
    messages = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    assert any(f"{api}/todo" in m for m in messages)
    assert any(body["key"] in m for m in messages)


def test_key_starts_with_the_utc_time_of_the_run(s3, api, monkeypatch):
    monkeypatch.setenv("API_URL", f"{api}/todo")
    freeze_clock(monkeypatch, datetime(2026, 12, 3, 16, 7, 28, 123456, tzinfo=timezone.utc))

    key = body_of(invoke())["key"]

    assert key.startswith("data-2026-12-03_16-07-28-123456-")


def test_suffix_comes_from_the_request_id(s3, api, monkeypatch):
    monkeypatch.setenv("API_URL", f"{api}/todo")

    key = body_of(invoke(context_with("1B2C3D4E-0000-4000-8000-00000000abcd")))["key"]

    assert key.endswith("-1b2c3d4e.json")


# --- uniqueness and order ------------------------------------------------------


def test_two_runs_in_the_same_second_keep_both_objects(s3, api, monkeypatch):
    monkeypatch.setenv("API_URL", f"{api}/todo")

    first = body_of(invoke())["key"]
    second = body_of(invoke())["key"]

    assert first != second
    assert sorted(keys_in(s3)) == sorted([first, second])


def test_runs_at_the_very_same_instant_still_get_distinct_keys(s3, api, monkeypatch):
    monkeypatch.setenv("API_URL", f"{api}/todo")
    instant = datetime(2026, 12, 3, 16, 7, 28, 0, tzinfo=timezone.utc)
    freeze_clock(monkeypatch, *[instant] * 4)
    contexts = [
        None,  # no context: random suffix
        None,
        context_with("aaaaaaaa-0000-4000-8000-000000000001"),
        context_with("bbbbbbbb-0000-4000-8000-000000000002"),
    ]

    keys = [body_of(invoke(context))["key"] for context in contexts]

    assert len(set(keys)) == 4
    assert all(k.startswith("data-2026-12-03_16-07-28-000000-") for k in keys)
    assert sorted(keys_in(s3)) == sorted(keys)


def test_keys_sort_in_time_order(s3, api, monkeypatch):
    monkeypatch.setenv("API_URL", f"{api}/todo")
    utc = timezone.utc
    times = [
        datetime(2026, 1, 9, 23, 59, 59, 999999, tzinfo=utc),
        datetime(2026, 1, 10, 0, 0, 0, 0, tzinfo=utc),
        datetime(2026, 1, 10, 0, 0, 0, 1, tzinfo=utc),
        datetime(2026, 1, 10, 0, 0, 9, 0, tzinfo=utc),
        datetime(2026, 1, 10, 0, 0, 10, 0, tzinfo=utc),
        datetime(2026, 10, 1, 0, 0, 0, 0, tzinfo=utc),
        datetime(2027, 1, 1, 0, 0, 0, 0, tzinfo=utc),
    ]
    freeze_clock(monkeypatch, *times)

    keys = [body_of(invoke())["key"] for _ in times]

    assert sorted(keys) == keys
    assert keys_in(s3) == keys  # S3 lists keys lexically


def test_keys_of_consecutive_real_runs_sort_in_run_order(s3, api, monkeypatch):
    monkeypatch.setenv("API_URL", f"{api}/todo")

    keys = [body_of(invoke())["key"] for _ in range(3)]

    assert keys_in(s3) == keys


# --- failures: answered, logged, nothing written -----------------------------


def test_missing_bucket_name_is_an_error_and_writes_nothing(s3, api, monkeypatch, caplog):
    monkeypatch.setenv("API_URL", f"{api}/todo")
    monkeypatch.delenv("S3_BUCKET_NAME")

    result = invoke()

    assert result["statusCode"] == 500
    assert "S3_BUCKET_NAME" in body_of(result)["error"]
    assert keys_in(s3) == []
    assert any(r.levelname == "ERROR" for r in caplog.records)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/error", "HTTP 500"),
        ("/slow", "timed out"),
        ("/not-json", "valid JSON"),
        ("/missing", "HTTP 404"),
    ],
)
def test_api_failures_are_errors_and_write_nothing(s3, api, monkeypatch, caplog, path, expected):
    monkeypatch.setenv("API_URL", f"{api}{path}")
    monkeypatch.setenv("API_TIMEOUT_SECONDS", "0.3")

    result = invoke()

    assert result["statusCode"] == 502
    assert expected in body_of(result)["error"]
    assert keys_in(s3) == []
    assert any(r.levelname == "ERROR" and expected in r.getMessage() for r in caplog.records)


def test_unreachable_api_is_an_error(s3, monkeypatch):
    # API_URL from the fixture points at a closed local port.
    result = invoke()

    assert result["statusCode"] == 502
    assert "request failed" in body_of(result)["error"]
    assert keys_in(s3) == []


def test_default_api_url_is_the_placeholder_api(s3, monkeypatch):
    # The network guard refuses the lookup, so this proves which URL is used
    # without going to the internet.
    monkeypatch.delenv("API_URL")

    result = invoke()

    assert result["statusCode"] == 502
    assert app.DEFAULT_API_URL in body_of(result)["error"]
    assert keys_in(s3) == []


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan"])
def test_invalid_timeout_setting_is_an_error(s3, api, monkeypatch, value):
    monkeypatch.setenv("API_URL", f"{api}/todo")
    monkeypatch.setenv("API_TIMEOUT_SECONDS", value)

    result = invoke()

    assert result["statusCode"] == 500
    assert "API_TIMEOUT_SECONDS" in body_of(result)["error"]
    assert keys_in(s3) == []


def test_s3_failure_is_an_error(s3, api, monkeypatch, caplog):
    monkeypatch.setenv("API_URL", f"{api}/todo")
    monkeypatch.setenv("S3_BUCKET_NAME", "no-such-bucket")

    result = invoke()

    assert result["statusCode"] == 500
    assert "NoSuchBucket" in body_of(result)["error"]
    assert keys_in(s3) == []
    assert any(r.levelname == "ERROR" and r.exc_info for r in caplog.records)


def test_unexpected_errors_are_answered_not_raised(s3, api, monkeypatch, caplog):
    monkeypatch.setenv("API_URL", f"{api}/todo")

    def broken(*args):
        raise RuntimeError("bug")

    monkeypatch.setattr(app, "make_key", broken)

    result = invoke()

    assert result["statusCode"] == 500
    assert "error" in body_of(result)
    assert keys_in(s3) == []
    assert any(r.levelname == "ERROR" and r.exc_info for r in caplog.records)


# --- packaging ---------------------------------------------------------------


def test_module_imports_without_any_aws_configuration():
    # A fresh interpreter with no AWS variables at all: importing must not
    # create a client or look for credentials.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
    code = "import app; assert app._s3_client is None; print('ok')"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(app.__file__).parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
