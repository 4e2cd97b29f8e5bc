"""Drives `lambdactl logs --follow --output json` against the sandbox (for bench/logs).

    logs-follow.py latency MODE LAMBDACTL N
        writes N events one at a time, each carrying its write time, and reports how long each
        took to come out of the follower's stdout
    logs-follow.py screen MODE LAMBDACTL N
        the same, read off the console's screen (its live tail, in tmux) instead of stdout
    logs-follow.py feed MODE LAMBDACTL N RATE BUDGET [console]
        writes N events at RATE events/s (for at most BUDGET seconds of writing) while the
        follower runs, samples the follower's RSS, checks every event came out exactly once,
        and reports its RSS at the end; with `console`, the console runs instead (its live
        tail, in tmux), and the end is when its screen shows the last event

MODE is `live` (the follower's default: live tail where the endpoint offers it, polling around
it) or `polling` (LAMBDACTL_LIVE_TAIL=off). Each run starts its own follower (`--since 10s`, so older events stay out) and writes to its own
Lambda-style streams, which it deletes at the end. Talks only to AWS_ENDPOINT_URL, which must be
on the loopback interface.
"""

import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import urlparse

import boto3

LOG_GROUP = "/aws/lambda/python-lambda"
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
# A feed stream takes this many seconds of events; a stream is deleted once all its events came
# out and its newest is older than the follower's overlap window (60 s) by a margin.
STREAM_SECONDS = 10
DELETE_AFTER = 90


def client():
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    if urlparse(endpoint).hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"refusing to write to {endpoint}: not the loopback sandbox")
    return boto3.client("logs", endpoint_url=endpoint, region_name=os.environ["AWS_REGION"])


def stream_name(kind):
    day = time.strftime("%Y/%m/%d", time.gmtime())
    return f"{day}/[$LATEST]bench{kind}{uuid.uuid4().hex[:22]}"


def iso(millis):
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f"
    )[:-3] + "Z"


def rss_kib(pid):
    answer = subprocess.run(["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True)
    return int(answer.stdout.strip() or 0)


class Follower:
    """The follower process and a thread reading its stdout line by line as lines arrive."""

    def __init__(self, lambdactl, mode, on_event):
        self.process = subprocess.Popen(
            [lambdactl, "logs", "--follow", "--output", "json", "--since", "10s"],
            env=follower_env(mode),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        self.on_event = on_event
        self.lines = 0
        self.stderr = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            arrived = time.time()
            self.lines += 1
            self.on_event(json.loads(line), arrived)

    def _read_stderr(self):
        for line in self.process.stderr:
            self.stderr.append(line.decode(errors="replace").rstrip())

    @property
    def pid(self):
        return self.process.pid

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wait_for(condition, seconds, interval=0.005):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


class Console:
    """The console in a tmux session of its own, its live tail following the newest event."""

    def __init__(self, lambdactl, mode):
        self.tmux = ["tmux", "-L", f"lambdactl-bench-{os.getpid()}"]
        subprocess.run(
            self.tmux + ["-f", "/dev/null", "new-session", "-d", "-x", "250", "-y", "50", lambdactl],
            env=follower_env(mode),
            check=True,
        )
        panes = subprocess.run(
            self.tmux + ["list-panes", "-F", "#{pane_pid}"],
            capture_output=True,
            text=True,
            check=True,
        )
        self.pid = int(panes.stdout.split()[0])
        self.stderr = []

    def capture(self):
        answer = subprocess.run(self.tmux + ["capture-pane", "-p"], capture_output=True, text=True)
        return answer.stdout

    def alive(self):
        return os.path.exists(f"/proc/{self.pid}")

    def stop(self):
        subprocess.run(self.tmux + ["kill-server"], capture_output=True)


def latency(mode, lambdactl, total):
    logs = client()
    name = stream_name("latency")
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=name)
    probe = re.compile(r"latency-probe (-?\d+) written ([0-9.]+)")
    arrivals = {}

    def on_event(event, arrived):
        found = probe.search(event["message"])
        if found:
            arrivals[int(found.group(1))] = arrived - float(found.group(2))

    follower = Follower(lambdactl, mode, on_event)
    try:
        # A first event shows the follower is polling; its latency includes start-up, so it is
        # not counted.
        seen = {}
        for n in range(-1, total):
            written = time.time()
            message = f"[INFO]\t{iso(written * 1000)}\tlatency-probe {n} written {written:.6f}\n"
            logs.put_log_events(
                logGroupName=LOG_GROUP,
                logStreamName=name,
                logEvents=[{"timestamp": int(written * 1000), "message": message}],
            )
            if not wait_for(lambda: n in arrivals, 60):
                sys.exit(f"event {n} did not come out within 60 s; stderr: {follower.stderr}")
            seen[n] = arrivals[n]
            # An irregular gap, so the writes do not fall into step with the 1 s poll.
            time.sleep(random.uniform(0.2, 1.3))
    finally:
        follower.stop()
        logs.delete_log_stream(logGroupName=LOG_GROUP, logStreamName=name)
    millis = [seen[n] * 1000 for n in range(total)]
    duplicates = follower.lines - (total + 1)
    print(
        json.dumps(
            {
                "events": total,
                "median_ms": round(statistics.median(millis)),
                "max_ms": round(max(millis)),
                "min_ms": round(min(millis)),
                "all_ms": [round(value) for value in millis],
                "extra_lines": duplicates,
                "stderr": follower.stderr[:10],
                "stderr_lines": len(follower.stderr),
            }
        )
    )


def follower_env(mode):
    env = dict(os.environ)
    env.pop("LAMBDACTL_LIVE_TAIL", None)
    if mode == "polling":
        env["LAMBDACTL_LIVE_TAIL"] = "off"
    return env


def screen(mode, lambdactl, total):
    logs = client()
    name = stream_name("screen")
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=name)
    socket = f"lambdactl-bench-{os.getpid()}"
    tmux = ["tmux", "-L", socket]

    def capture():
        answer = subprocess.run(tmux + ["capture-pane", "-p"], capture_output=True, text=True)
        return answer.stdout

    subprocess.run(
        tmux + ["-f", "/dev/null", "new-session", "-d", "-x", "200", "-y", "50", lambdactl],
        env=follower_env(mode),
        check=True,
    )
    millis = []
    try:
        if not wait_for(lambda: "ready" in capture(), 60):
            sys.exit(f"the console showed no complete frame within 60 s:\n{capture()}")
        # The first probe shows the live tail is running; its latency is not counted.
        for n in range(-1, total):
            written = time.time()
            logs.put_log_events(
                logGroupName=LOG_GROUP,
                logStreamName=name,
                logEvents=[
                    {
                        "timestamp": int(written * 1000),
                        "message": f"latency-probe {n} written {written:.3f}",
                    }
                ],
            )
            if not wait_for(lambda: f"latency-probe {n} " in capture(), 60):
                sys.exit(f"probe {n} did not show within 60 s:\n{capture()}")
            if n >= 0:
                millis.append((time.time() - written) * 1000)
            time.sleep(random.uniform(0.2, 1.3))
    finally:
        subprocess.run(tmux + ["kill-server"], capture_output=True)
        logs.delete_log_stream(logGroupName=LOG_GROUP, logStreamName=name)
    print(
        json.dumps(
            {
                "events": total,
                "median_ms": round(statistics.median(millis)),
                "max_ms": round(max(millis)),
                "min_ms": round(min(millis)),
                "all_ms": [round(value) for value in millis],
            }
        )
    )


def feed(mode, lambdactl, total, rate, budget, sink="stdout"):
    logs = client()
    got = bytearray(total)
    counts = {"distinct": 0, "duplicates": 0, "other": 0, "contiguous": 0}
    marker = re.compile(r"feed-event (\d+) ")

    def on_event(event, _arrived):
        found = marker.search(event["message"])
        if not found:
            counts["other"] += 1
            return
        n = int(found.group(1))
        if got[n]:
            counts["duplicates"] += 1
        else:
            got[n] = 1
            counts["distinct"] += 1

    def contiguous():
        # How many events from the first on have all come out. The console's screen cannot
        # tell, so there streams go by their age alone.
        if sink == "console":
            return written
        while counts["contiguous"] < total and got[counts["contiguous"]]:
            counts["contiguous"] += 1
        return counts["contiguous"]

    if sink == "console":
        follower = Console(lambdactl, mode)
        if not wait_for(lambda: "ready" in follower.capture(), 60, 0.1):
            follower.stop()
            sys.exit(f"the console showed no complete frame within 60 s:\n{follower.capture()}")
    else:
        follower = Follower(lambdactl, mode, on_event)
    pid = follower.pid
    # [name, first event number, end event number, newest timestamp in ms, opened at (s)]
    streams = []
    samples = []
    written = 0
    started = time.monotonic()
    last_millis = int(time.time() * 1000)
    next_sample = 10.0
    put_seconds = 0.0
    put_calls = 0
    try:
        time.sleep(2)  # the follower's first poll, so its start-up is not in the first sample
        samples.append({"t": 0, "written": 0, "out": 0, "rss_kib": rss_kib(pid)})
        started = time.monotonic()
        while written < total and time.monotonic() - started < budget:
            elapsed = time.monotonic() - started
            if not streams or elapsed >= streams[-1][4] + STREAM_SECONDS:
                name = stream_name("feed")
                logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=name)
                streams.append([name, written, written, last_millis, elapsed])
            due = min(total, int(rate * elapsed) + 1)
            now_millis = int(time.time() * 1000)
            # Timestamps spread evenly between the previous batch and now, as a steady stream
            # of invocations would write them.
            count = min(due - written, MAX_BATCH_EVENTS)
            batch, size = [], 0
            for k in range(count):
                at = last_millis + (now_millis - last_millis) * (k + 1) // count
                message = (
                    f"[INFO]\t{iso(at)}\t{uuid.UUID(int=written // 4 + 1)}\tfeed-event "
                    f"{written} order {written % 977} processed in {written % 300} ms\n"
                )
                cost = len(message) + EVENT_OVERHEAD
                if size + cost > MAX_BATCH_BYTES:
                    break
                batch.append({"timestamp": at, "message": message})
                size += cost
                written += 1
            if batch:
                before = time.monotonic()
                logs.put_log_events(
                    logGroupName=LOG_GROUP, logStreamName=streams[-1][0], logEvents=batch
                )
                put_seconds += time.monotonic() - before
                put_calls += 1
                last_millis = batch[-1]["timestamp"]
                streams[-1][2] = written
                streams[-1][3] = last_millis
            # Streams whose events all came out and lie well before the overlap window.
            done = contiguous()
            for stream in [s for s in streams[:-1] if s[2] <= done]:
                if stream[3] < time.time() * 1000 - DELETE_AFTER * 1000:
                    logs.delete_log_stream(logGroupName=LOG_GROUP, logStreamName=stream[0])
                    streams.remove(stream)
            if elapsed >= next_sample:
                samples.append(
                    {
                        "t": round(elapsed),
                        "written": written,
                        "out": counts["distinct"],
                        "rss_kib": rss_kib(pid),
                    }
                )
                next_sample += 10
            if written >= due:
                time.sleep(0.05)
        writing = time.monotonic() - started
        # Everything written should come out; give the follower time to catch up.
        if sink == "console":
            last = f"feed-event {written - 1} "
            caught_up = wait_for(lambda: last in follower.capture(), 300, 0.5)
        else:
            caught_up = wait_for(lambda: counts["distinct"] >= written, 300)
        time.sleep(3)  # a few more polls over the overlap window, which must add nothing
        end = {
            "t": round(time.monotonic() - started),
            "written": written,
            "out": counts["distinct"],
            "rss_kib": rss_kib(pid),
        }
        samples.append(end)
        idle = int(os.environ.get("LOGS_BENCH_IDLE", "70"))
        time.sleep(idle)
        after_idle = rss_kib(pid)
        cpu = subprocess.run(["ps", "-o", "times=", "-p", str(pid)], capture_output=True, text=True)
        alive = follower.alive()
        held = re.search(r"(\d+) events", follower.capture()) if sink == "console" else None
    finally:
        follower.stop()
        for stream in streams:
            logs.delete_log_stream(logGroupName=LOG_GROUP, logStreamName=stream[0])
    if sink == "console":
        counts["distinct"] = counts["duplicates"] = None
    print(
        json.dumps(
            {
                "sink": sink,
                "buffer_events": int(held.group(1)) if held else None,
                "requested": total,
                "written": written,
                "write_seconds": round(writing, 1),
                "rate_asked": rate,
                "rate_achieved": round(written / writing) if writing else 0,
                "put_calls": put_calls,
                "put_seconds": round(put_seconds, 1),
                "out_distinct": counts["distinct"],
                "duplicates": counts["duplicates"],
                "missing": None if sink == "console" else written - counts["distinct"],
                "other_events": counts["other"],
                "caught_up": caught_up,
                "alive_at_end": alive,
                "rss_end_kib": end["rss_kib"],
                "rss_after_idle_kib": after_idle,
                "idle_seconds": idle,
                "cpu_seconds": int(cpu.stdout.strip() or 0),
                "rss_max_kib": max(sample["rss_kib"] for sample in samples),
                "samples": samples,
                "stderr": follower.stderr,
                "stderr_lines": len(follower.stderr),
            }
        )
    )


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    modes = ("live", "polling")
    if command == "latency" and len(sys.argv) == 5 and sys.argv[2] in modes:
        latency(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif command == "screen" and len(sys.argv) == 5 and sys.argv[2] in modes:
        screen(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif command == "feed" and len(sys.argv) in (7, 8) and sys.argv[2] in modes:
        sink = "console" if sys.argv[7:] == ["console"] else "stdout"
        feed(
            sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), sink
        )
    else:
        sys.exit(__doc__)
