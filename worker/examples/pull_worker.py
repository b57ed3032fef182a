#!/usr/bin/env python3
"""A TaskFlow worker in plain Python 3 (standard library only), over the HTTP pull protocol.

It speaks to taskflow-http (docs/http.md, "The worker protocol over HTTP") with an API key that
carries only the worker role, never to the database:

    POST /jobs/acquire              -> {"jobs": [{"job_id", "attempt", "lease_token", ...}]}
    POST /jobs/{id}/heartbeat       while a handler runs (every lease / 3)
    POST /jobs/{id}/complete        the handler returned a result
    POST /jobs/{id}/fail            the handler raised
    POST /jobs/{id}/snooze          the handler raised Snooze(seconds): run again later,
                                    the attempt not counted
    POST /jobs/{id}/release         the worker stops before it started an acquired job

Usage (docs/worker.md, "A worker in any language"):

    SELECT taskflow.create_api_key(NULL, 'worker');   -- once, as an admin
    TASKFLOW_API_KEY=tfk_... python3 worker/examples/pull_worker.py \\
        --url http://localhost:8080 --queue default

Handlers are plain functions of (payload, job) registered in HANDLERS below; copy this file and
put yours there. Tested by test/t/http_pull.t.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse


class Snooze(Exception):
    """Raise from a handler to run the job again after `seconds`, without using up an attempt."""

    def __init__(self, seconds):
        super().__init__(f"snooze for {seconds} s")
        self.seconds = seconds


class PermanentError(Exception):
    """Raise from a handler for an error that retrying cannot fix: the job ends FAILED."""


class LeaseLost(Exception):
    """The server answered 409: this attempt is over (lease expired, cancelled, ...)."""


# --- the handlers of this example ------------------------------------------------------------

def add(payload, job):
    return {"sum": sum(payload.get("numbers", []))}


def rate_limited(payload, job):
    # An upstream API that says "come back later" the first time: snooze, do not fail. Asked
    # again, it answers. The snoozed attempt does not count against max_attempts.
    if job["attempt"] == 1:
        raise Snooze(payload.get("retry_after", 1))
    return {"called_upstream_on_attempt": job["attempt"]}


def reject(payload, job):
    raise PermanentError(f"order {payload.get('order_id')} does not exist")


def slow(payload, job):
    time.sleep(payload.get("seconds", 1))  # heartbeats keep the lease alive meanwhile
    return {"slept": payload.get("seconds", 1)}


HANDLERS = {
    "demo.add": add,
    "demo.rate_limited": rate_limited,
    "demo.reject": reject,
    "demo.slow": slow,
}


# --- the protocol ------------------------------------------------------------------------------

class Client:
    """One keep-alive HTTP/1.1 connection to taskflow-http; reconnects when it breaks."""

    def __init__(self, url, key, timeout=30):
        u = urllib.parse.urlsplit(url)
        self.https = u.scheme == "https"
        self.host, self.port = u.hostname, u.port or (443 if self.https else 80)
        self.key, self.timeout = key, timeout
        self.conn = None

    def post(self, path, body):
        data = json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        for attempt in range(2):  # once more on a connection the server closed meanwhile
            if self.conn is None:
                cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
                self.conn = cls(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("POST", path, data, headers)
                resp = self.conn.getresponse()
                text = resp.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        answer = json.loads(text) if text else {}
        if resp.status == 409 and path != "/jobs/acquire":
            raise LeaseLost(answer.get("detail", "lease lost"))
        if resp.status >= 400:
            raise RuntimeError(f"POST {path}: HTTP {resp.status}: {answer.get('detail', text)}")
        return answer


class Heartbeat(threading.Thread):
    """Extends a running job's lease every `interval` seconds until stopped."""

    def __init__(self, client, job, interval):
        super().__init__(daemon=True)
        self.client, self.job, self.interval = client, job, interval
        self.done = threading.Event()
        self.lost = False

    def run(self):
        while not self.done.wait(self.interval):
            try:
                answer = self.client.post(f"/jobs/{self.job['job_id']}/heartbeat",
                                          {"lease_token": self.job["lease_token"]})
                if answer.get("status") == "cancel_requested":
                    log("cancel requested", self.job)
            except LeaseLost:
                self.lost = True
                return
            except Exception as e:  # the next beat tries again
                log(f"heartbeat failed: {e}", self.job)


def log(message, job=None, **fields):
    line = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "msg": message}
    if job:
        line.update(job_id=job["job_id"], job_type=job["job_type"], attempt=job["attempt"])
    line.update(fields)
    print(json.dumps(line), flush=True)


def run_job(client, beat_client, job, lease_seconds):
    path = f"/jobs/{job['job_id']}"
    token = {"lease_token": job["lease_token"]}
    handler = HANDLERS.get(job["job_type"])
    beat = Heartbeat(beat_client, job, max(lease_seconds / 3, 0.2))
    beat.start()
    try:
        if handler is None:
            raise PermanentError(f"no handler for job type {job['job_type']}")
        result = handler(job["payload"], job)
        outcome = ("complete", {**token, "result": result})
    except Snooze as s:
        outcome = ("snooze", {**token, "delay": s.seconds})
    except PermanentError as e:
        outcome = ("fail", {**token, "error_type": type(e).__name__, "error_message": str(e),
                            "retryable": False})
    except Exception as e:
        outcome = ("fail", {**token, "error_type": type(e).__name__, "error_message": str(e)})
    finally:
        beat.done.set()
        beat.join()
    verb, body = outcome
    try:
        answer = client.post(f"{path}/{verb}", body)
        log(f"job {verb}", job, state=answer["state"])
    except LeaseLost as e:
        log(f"{verb} refused, the attempt is over: {e}", job)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default=os.environ.get("TASKFLOW_URL", "http://localhost:8080"))
    ap.add_argument("--key", default=os.environ.get("TASKFLOW_API_KEY"),
                    help="an API key with the worker role (default: $TASKFLOW_API_KEY)")
    ap.add_argument("--queue", action="append", help="queue to take jobs from (repeatable)")
    ap.add_argument("--worker-id", default=f"py-{socket.gethostname()}-{os.getpid()}")
    ap.add_argument("--lease", type=float, default=30, help="lease length in seconds")
    ap.add_argument("--poll", type=float, default=1, help="longest wait between empty polls (s)")
    ap.add_argument("--max-idle", type=float, default=0,
                    help="exit after this many seconds without a job (0: run until SIGTERM)")
    args = ap.parse_args()
    if not args.key:
        ap.error("an API key is needed: --key or TASKFLOW_API_KEY")

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    client = Client(args.url, args.key)
    beat_client = Client(args.url, args.key)  # heartbeats on their own connection
    queues = args.queue or ["default"]
    idle_since, wait = time.monotonic(), 0.05
    log("worker started", worker_id=args.worker_id, queues=queues)
    while not stopping.is_set():
        try:
            jobs = client.post("/jobs/acquire", {"worker_id": args.worker_id, "queues": queues,
                                                 "max_jobs": 1, "lease": args.lease})["jobs"]
        except Exception as e:
            log(f"acquire failed: {e}")
            jobs = []
        if not jobs:
            if args.max_idle and time.monotonic() - idle_since >= args.max_idle:
                break
            stopping.wait(wait)
            wait = min(wait * 2, args.poll)  # back off while idle, up to --poll
            continue
        for job in jobs:
            if stopping.is_set():  # stopping: hand back what has not started, attempt not counted
                client.post(f"/jobs/{job['job_id']}/release", {"lease_token": job["lease_token"]})
                log("job released", job)
                continue
            run_job(client, beat_client, job, args.lease)
        idle_since, wait = time.monotonic(), 0.05
    log("worker stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
