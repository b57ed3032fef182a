#!/usr/bin/env python3
"""A TaskFlow HTTP handler in Python, standard library only: the push contract of
docs/worker.md, "The HTTP handler contract".

    TASKFLOW_HTTP_SECRET=... python3 handler.py [PORT]      (PORT 0 or none: any free port)

Job types (TaskFlow-Job-Type), the same as the Node example:
  example.greet         {"name": "Ada"}        200 {"greeting": "Hello, Ada!"}: succeeds with that result
  example.charge        {"card": "declined"}   422: fails at once (FAILED, not retried)
  example.rate_limited  {"not_before": UNIX}   429 + Retry-After until then: snoozed, no attempt used
  example.report        {"seconds": N}         works N seconds, then 200; extends its lease while it works
                                               (POST /jobs/{id}/heartbeat on taskflow-http when
                                               TASKFLOW_API_URL and TASKFLOW_API_KEY are set), and stops when
                                               the worker aborts the request (a cancel)
A request whose signature does not verify gets 401.
"""
import hashlib
import hmac
import json
import math
import os
import select
import sys
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ.get("TASKFLOW_HTTP_SECRET", "").encode()
TOLERANCE_SECONDS = 300  # reject replays of requests older than 5 minutes
MAX_BODY = 1 << 20


def verify(headers, body: bytes) -> bool:
    """The whole verification: HMAC-SHA256 over "<TaskFlow-Timestamp>.<raw body>", hex, "v1=" prefix."""
    timestamp = headers.get("TaskFlow-Timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    expected = "v1=" + hmac.new(SECRET, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("TaskFlow-Signature", ""), expected)


def heartbeat(job_id: str, lease_token: str) -> str:
    """Extends the lease through taskflow-http when the handler knows where it is. Without it the
    worker's own heartbeats keep the lease for as long as the request is open."""
    api = os.environ.get("TASKFLOW_API_URL")
    if not api:
        return "worker"
    request = urllib.request.Request(
        f"{api}/jobs/{job_id}/heartbeat",
        data=json.dumps({"lease_token": lease_token}).encode(),
        headers={"Content-Type": "application/json",
                 "Authorization": "Bearer " + os.environ.get("TASKFLOW_API_KEY", "")},
        method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
            return "api"
    except urllib.error.HTTPError as e:
        return f"api_{e.code}"
    except OSError as e:
        return f"error: {e}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the worker reuses its connections

    def reply(self, status, body, headers=None):
        text = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(text)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(text)

    def worker_went_away(self) -> bool:
        """The worker sends nothing while it waits for the answer: a readable socket means it
        closed the connection (a cancel, a timeout, a shutdown)."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        return bool(readable) and self.connection.recv(1, 2) == b""  # 2: MSG_PEEK

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return self.reply(400, {"error": "payload too large"})
        body = self.rfile.read(length)
        if not verify(self.headers, body):
            return self.reply(401, {"error": "bad signature"})
        try:
            payload = json.loads(body)
        except ValueError:
            return self.reply(400, {"error": "the payload is not JSON"})
        job_id = self.headers.get("TaskFlow-Job-Id")
        attempt = int(self.headers.get("TaskFlow-Attempt", "0"))
        job_type = self.headers.get("TaskFlow-Job-Type")
        if job_type == "example.greet":
            return self.reply(200, {"greeting": f"Hello, {payload.get('name', 'world')}!", "attempt": attempt})
        if job_type == "example.charge":
            if payload.get("card") == "declined":
                return self.reply(422, {"error": "card declined"})
            return self.reply(200, {"charged": True})
        if job_type == "example.rate_limited":
            wait = math.ceil(float(payload.get("not_before", 0)) - time.time())
            if wait > 0:
                return self.reply(429, {"error": "rate limited"}, {"Retry-After": str(wait)})
            return self.reply(200, {"sent": True, "attempt": attempt})
        if job_type == "example.report":
            seconds = payload.get("seconds", 1)
            beats, elapsed = [], 0.0
            while elapsed < float(seconds):
                if self.worker_went_away():
                    print(f"job {job_id}: the worker aborted the request (cancelled); stopping", flush=True)
                    self.close_connection = True
                    return
                if elapsed > 0 and elapsed % 1 == 0:
                    beats.append(heartbeat(job_id, self.headers.get("TaskFlow-Lease-Token", "")))
                time.sleep(0.5)
                elapsed += 0.5
            return self.reply(200, {"reported": True, "seconds": seconds, "heartbeats": beats})
        return self.reply(404, {"error": f"no handler for {job_type}"})

    def log_message(self, format, *args):
        pass  # quiet; the worker logs every job


def main():
    if not SECRET:
        sys.exit("set TASKFLOW_HTTP_SECRET (the same secret as the worker's http handler)")
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
    server.daemon_threads = True
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
