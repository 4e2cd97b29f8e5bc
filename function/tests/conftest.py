"""Fixtures: fake AWS (moto, in-process), a local JSON API, and a network guard
so that no test can reach real AWS or the internet."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from moto import mock_aws

import app

BUCKET = "lambdactl-test-bucket"
TODO = {"userId": 1, "id": 1, "title": "delectus aut autem", "completed": False}
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch):
    """Dummy credentials and no way out: whatever a test forgets to mock fails
    loudly instead of touching a real account or the internet."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        # The local test API must never go through a proxy.
        "NO_PROXY": "127.0.0.1,localhost,::1",
        "no_proxy": "127.0.0.1,localhost,::1",
        # A closed local port: a test that forgets to point API_URL somewhere
        # gets a connection error, not the real placeholder API.
        "API_URL": "http://127.0.0.1:9/",
        "API_TIMEOUT_SECONDS": "2",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "S3_BUCKET_NAME"):
        monkeypatch.delenv(name, raising=False)

    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def guarded_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            raise OSError(f"test tried to connect to {address!r}")
        return real_connect(sock, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if host not in LOOPBACK:
            raise socket.gaierror(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)

    # The handler caches its client; each test starts from scratch.
    monkeypatch.setattr(app, "_s3_client", None)
    yield


@pytest.fixture
def s3(monkeypatch):
    """An in-process fake S3 with one empty bucket, named in S3_BUCKET_NAME."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        monkeypatch.setenv("S3_BUCKET_NAME", BUCKET)
        yield client


def keys_in(client, bucket=BUCKET):
    """All keys in the bucket, in S3's listing order (lexical)."""
    listing = client.list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


class _ApiHandler(BaseHTTPRequestHandler):
    """Routes of the fake API: /todo serves JSON, /error a 500, /not-json HTML,
    /slow answers only once the test is over (to trigger the client timeout)."""

    def do_GET(self):
        if self.path == "/todo":
            self._reply(200, "application/json", json.dumps(TODO))
        elif self.path == "/error":
            self._reply(500, "application/json", json.dumps({"message": "boom"}))
        elif self.path == "/not-json":
            self._reply(200, "text/html", "<html><body>not json</body></html>")
        elif self.path == "/slow":
            self.server.release.wait(timeout=10)
            self._reply(200, "application/json", json.dumps(TODO))
        else:
            self._reply(404, "text/plain", "not found")

    def _reply(self, status, content_type, text):
        payload = text.encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test); nothing to tell it

    def log_message(self, format, *args):
        pass  # keep test output quiet


@pytest.fixture
def api():
    """Base URL (http://127.0.0.1:<port>) of a local fake API running in a thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ApiHandler)
    server.daemon_threads = True
    server.release = threading.Event()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
