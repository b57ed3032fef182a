#!/usr/bin/env bash
# A client request never crashes or poisons the server (issue 10, part 3): JSON nested beyond the
# depth bound is refused before anything recursive touches it (POST /jobs, rules, webhooks, and
# payloads the worker reads from the database); NUL characters are refused instead of cut off;
# framing per RFC 9112 (pipelining, conflicting Content-Length, Content-Length with
# Transfer-Encoding, a method a path does not have); duplicates answer 409; POST /jobs echoes the
# correlation id the job has; a login role outside taskflow_http is refused at startup.
. "$(dirname "$0")/http_lib.sh"

ADMIN=$(new_key '' admin)
ACME=$(new_key acme)
key_args ADM "$ADMIN" application/json
key_args A "$ACME" application/json
sql "SELECT taskflow.create_queue('hq')" >/dev/null

start_main "taskflow-http starts"
PORT=${T_PORTS[main]}
alive() { req GET /health; [ "$STATUS" = 200 ]; }

# --- nesting depth --------------------------------------------------------------------------------
# nest N: a POST /jobs body whose payload nests N arrays ({"a": [[[...]]]} is N + 1 levels).
nest() {
  python3 -c "import sys; n=int(sys.argv[1]); print('{\"job_type\":\"deep\",\"queue\":\"hq\",\"payload\":{\"a\":' + '['*(n-1) + ']'*(n-1) + '}}')" "$1" >"$T_DIR/deep.json"
}
nest 100000
req POST /jobs "${ADM[@]}" --data-binary @"$T_DIR/deep.json"
is_problem 422 "a payload of 100,000 nested arrays (200 KB)"
grep -q 'deeper than' <<<"$BODY"
ok $? "the problem says the body nests too deeply ($(json_get "$BODY" '{detail}'))"
alive
ok $? "the server is alive after it (it used to die of SIGSEGV)"
nest 20000
req POST /jobs "${ADM[@]}" --data-binary @"$T_DIR/deep.json"
is_problem 422 "20,000 levels are refused by the server, not by PostgreSQL (54001, a 500 before)"
nest 64
req POST /jobs "${ADM[@]}" --data-binary @"$T_DIR/deep.json"
is "$STATUS" 201 "a payload nesting exactly 64 levels (the SQL bound too) is accepted"
nest 65
req POST /jobs "${ADM[@]}" --data-binary @"$T_DIR/deep.json"
is_problem 422 "a payload nesting 65 levels is refused"
python3 -c "print('{\"name\":\"deep\",\"trigger\":{\"type\":\"event\",\"on\":\"job_succeeded\",\"job_type\":\"x\"},\"actions\":[{\"job_type\":\"y\",\"payload\":' + '['*100000 + ']'*100000 + '}]}')" >"$T_DIR/deeprule.json"
req POST /automation-rules "${ADM[@]}" --data-binary @"$T_DIR/deeprule.json"
is_problem 422 "a rule whose actions nest 100,000 levels"
python3 -c "print('['*100000 + ']'*100000)" >"$T_DIR/deephook.json"
req POST /events/webhook/some_webhook_key_0123456789 -H 'Content-Type: application/json' --data-binary @"$T_DIR/deephook.json"
is_problem 422 "a webhook body nesting 100,000 levels"
alive
ok $? "the server is alive after deep rules and webhooks"

# --- NUL characters -----------------------------------------------------------------------------
req POST /jobs "${ADM[@]}" -d '{"job_type": "x\u0000y", "queue": "hq"}'
is_problem 422 "job_type with a NUL character"
grep -q 'job_type must not contain a NUL' <<<"$BODY"
ok $? "the problem names job_type ($(json_get "$BODY" '{detail}'))"
req POST /jobs "${ADM[@]}" -d '{"job_type": "u", "queue": "hq", "unique_key": "k\u0000one"}'
is_problem 422 "unique_key with a NUL character (two keys used to collapse into one job)"
req POST /jobs "${ADM[@]}" -d '{"job_type": "u", "queue": "hq", "tenant_id": "acme\u0000globex"}'
is_problem 422 "tenant_id \"acme\\u0000globex\" (it used to be accepted as acme)"
grep -q 'tenant_id must not' <<<"$BODY"
ok $? "the problem names tenant_id"
req POST /jobs "${ADM[@]}" -d '{"job_type": "u", "queue": "hq", "payload": {"a": ["ok", "b\u0000"]}}'
is_problem 422 "a payload string with a NUL character"
grep -q 'payload.a\[1\] must not' <<<"$BODY"
ok $? "the problem names the place: payload.a[1]"
req POST /automation-rules "${ADM[@]}" -d '{"name": "n\u0000ul", "trigger": {"type": "event", "on": "job_succeeded", "job_type": "x"}, "actions": [{"job_type": "y"}]}'
is_problem 422 "a rule name with a NUL character"
req POST /events/webhook/some_webhook_key_0123456789 -H 'Content-Type: application/json' -d '{"a": "x\u0000"}'
is_problem 422 "a webhook body with a NUL character"
grep -q 'webhook body.a must not' <<<"$BODY"
ok $? "the problem names the place: webhook body.a"
req GET '/jobs?tenant=acme%00globex' "${ADM[@]}"
is_problem 422 "a query parameter with a NUL character"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE job_type IN ('x', 'u') OR unique_key = 'k'")" 0 \
  "none of them wrote a job"

# --- framing --------------------------------------------------------------------------------------
cat >"$T_DIR/raw.py" <<'PY'
# raw.py PORT: sends stdin's bytes (with \r\n line ends) on one connection and prints every
# response's status line, then "closed" when the server closed the connection.
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(3)
s.sendall(sys.stdin.buffer.read().replace(b"\n", b"\r\n").replace(b"\\0", b"\0"))
data = b""
end = time.time() + 4
closed = False
while time.time() < end:
    try:
        chunk = s.recv(65536)
    except socket.timeout:
        break
    if not chunk:
        closed = True
        break
    data += chunk
import re
for status in re.findall(rb"HTTP/1\.1 [0-9]{3} [^\r]*", data):
    print(status.decode())
if closed:
    print("closed")
PY
raw() { python3 "$T_DIR/raw.py" "$PORT"; }
BODY1='{"job_type":"pipe","queue":"hq"}'
LEN=${#BODY1}
got=$(printf 'GET /health HTTP/1.1\nHost: x\n\nPOST /jobs HTTP/1.1\nHost: x\nAuthorization: Bearer %s\nContent-Type: application/json\nContent-Length: %d\n\n%sGET /nope HTTP/1.1\nHost: x\n\nGET /health HTTP/1.1\nHost: x\nConnection: close\n\n' "$ADMIN" "$LEN" "$BODY1" | raw | tr '\n' ' ')
is "$got" "HTTP/1.1 200 OK HTTP/1.1 201 Created HTTP/1.1 404 Not Found HTTP/1.1 200 OK closed " \
  "four pipelined requests on one connection get four answers, in order"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE job_type = 'pipe'")" 1 "the pipelined POST /jobs ran once"
got=$(printf 'POST /jobs HTTP/1.1\nHost: x\nAuthorization: Bearer %s\nContent-Type: application/json\nContent-Length: %d\nContent-Length: 5\n\n%sGET /health HTTP/1.1\nHost: x\n\n' "$ADMIN" "$LEN" "$BODY1" | raw | tr '\n' ' ')
is "$got" "HTTP/1.1 400 Bad Request closed " "two different Content-Length values: 400, and the connection is closed"
# A well-formed chunked body (which httplib 0.11 read, ignoring Content-Length) and a Content-Length.
got=$(printf 'POST /jobs HTTP/1.1\nHost: x\nAuthorization: Bearer %s\nContent-Type: application/json\nContent-Length: 5\nTransfer-Encoding: chunked\n\n%x\n%s\n0\n\nGET /health HTTP/1.1\nHost: x\n\n' "$ADMIN" "$LEN" "$BODY1" | raw | tr '\n' ' ')
is "$got" "HTTP/1.1 400 Bad Request closed " "Content-Length with Transfer-Encoding: 400, and the connection is closed"
got=$(printf 'POST /jobs HTTP/1.1\nHost: x\nAuthorization: Bearer %s\nContent-Type: application/json\nContent-Length: %d, %d\n\n%s' "$ADMIN" "$LEN" "$LEN" "$BODY1" | raw | tr '\n' ' ')
is "$got" "HTTP/1.1 400 Bad Request closed " "a Content-Length that is a list: 400"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE job_type = 'pipe'")" 1 "none of the badly framed requests ran"
got=$(printf 'PUT /jobs HTTP/1.1\nHost: x\n\nGET /health HTTP/1.1\nHost: x\nConnection: close\n\n' | raw | tr '\n' ' ')
is "$got" "HTTP/1.1 405 Method Not Allowed HTTP/1.1 200 OK closed " "PUT /jobs without a body: 405 at once, and the connection goes on"
req PUT /jobs "${ADM[@]}"
is_problem 405 "PUT /jobs without a body (curl)"
is "$(header Allow)" "POST, GET" "with Allow: POST, GET"
req PUT /jobs "${ADM[@]}" -d '{"job_type": "p"}'
is_problem 405 "PUT /jobs with a body"
req DELETE /jobs/1 "${ADM[@]}"
is_problem 405 "DELETE /jobs/1"
alive
ok $? "the server is alive after the framing tests"

# --- statuses -----------------------------------------------------------------------------------
RULE='{"name": "dup", "trigger": {"type": "webhook", "key": "dup_webhook_key_0123456789abcdef", "secret": "a-secret-of-at-least-16-chars"}, "actions": [{"job_type": "y"}]}'
req POST /automation-rules "${ADM[@]}" -d "$RULE"
is "$STATUS" 201 "a webhook rule"
req POST /automation-rules "${ADM[@]}" -d "$RULE"
is_problem 409 "the same rule name again (42710, a 500 before)"
req POST /automation-rules "${ADM[@]}" -d "${RULE/\"dup\"/\"dup2\"}"
is_problem 409 "another rule with the same webhook key (42710)"
is "$(json_get "$BODY" '{sqlstate}')" 42710 "with sqlstate 42710"

# --- correlation ids ------------------------------------------------------------------------------
req POST /jobs "${ADM[@]}" -H 'X-Correlation-ID: first-corr' -d '{"job_type": "c", "queue": "hq", "unique_key": "same"}'
FIRST=$(json_get "$BODY" '{id}')
is "$(json_get "$BODY" '{correlation_id}')" first-corr "a job with a unique key and a correlation id"
req POST /jobs "${ADM[@]}" -H 'X-Correlation-ID: second-corr' -d '{"job_type": "c", "queue": "hq", "unique_key": "same"}'
is "$(json_get "$BODY" '{id}')" "$FIRST" "the same unique key returns the existing job"
is "$(json_get "$BODY" '{correlation_id}')" first-corr "and echoes that job's correlation id, not the request's"
is "$(header X-Correlation-ID)" first-corr "in X-Correlation-ID too"
req POST /jobs "${ADM[@]}" -d '{"job_type": "c", "queue": "hq", "unique_key": "same"}'
is "$(json_get "$BODY" '{correlation_id}')" first-corr "without a correlation id of its own as well (not a generated one)"
sql "SELECT taskflow.schedule('c', queue => 'hq', unique_key => 'nocorr')" >/dev/null
req POST /jobs "${ADM[@]}" -H 'X-Correlation-ID: mine' -d '{"job_type": "c", "queue": "hq", "unique_key": "nocorr"}'
is "$(json_get "$BODY" '{correlation_id}')" "" "an existing job without a correlation id echoes null"
req POST /jobs "${ADM[@]}" -H 'X-Correlation-ID: parent-corr' -d '{"job_type": "c", "queue": "hq"}'
PARENT=$(json_get "$BODY" '{id}')
req POST /jobs "${ADM[@]}" -d '{"job_type": "c", "queue": "hq", "parent_job_id": '"$PARENT"'}'
CHILD=$(json_get "$BODY" '{id}')
is "$(json_get "$BODY" '{correlation_id}')" parent-corr "a sub-job without one echoes its parent's"
is "$(sql "SELECT correlation_id FROM taskflow.jobs WHERE id = ${CHILD:-0}")" parent-corr "which is the one stored"

# --- the login role -------------------------------------------------------------------------------
sql "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tf_not_http') THEN CREATE ROLE tf_not_http LOGIN; END IF; END\$\$" >/dev/null
"$HTTP_BIN" --db "postgresql://tf_not_http@127.0.0.1:$PGPORT/$T_DB" --http 127.0.0.1:0 >"$T_DIR/notmember.out" 2>"$T_DIR/notmember.log" &
refuses_non_member $! "$T_DIR/notmember.log" "taskflow-http"

# A taken port is an error, not a second listener sharing it (httplib's default SO_REUSEPORT).
"$HTTP_BIN" --db "$T_URL" --http "127.0.0.1:${T_PORTS[main]}" >"$T_DIR/taken.out" 2>"$T_DIR/taken.log" &
wait_exit $!
ok "$([ "$EXIT_STATUS" != timeout ] && [ "$EXIT_STATUS" -ne 0 ] && grep -q 'cannot listen' "$T_DIR/taken.log" "$T_DIR/taken.out"; echo $?)" \
  "a second server on a taken port exits non-zero saying it cannot listen (exit $EXIT_STATUS)"

# A role that loses its membership while the server runs: /health says so.
sql "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tf_http_revoked') THEN CREATE ROLE tf_http_revoked LOGIN NOINHERIT; END IF; END\$\$; GRANT taskflow_http TO tf_http_revoked" >/dev/null
T_URL="postgresql://tf_http_revoked@127.0.0.1:$PGPORT/$T_DB" start_server revoked
ok $? "a server whose role is a member of taskflow_http starts"
SERVER=revoked req GET /health
is "$STATUS" 200 "and is healthy"
sql "REVOKE taskflow_http FROM tf_http_revoked" >/dev/null
SERVER=revoked req GET /health
is_problem 503 "/health once the role is no longer a member"
grep -q 'not a member of taskflow_http' <<<"$BODY"
ok $? "saying why"

done_testing
