#!/usr/bin/env bash
# The server's bounds: slow clients are cut off and cannot starve the others, connections beyond
# threads + queue get an immediate 503, oversized headers are refused, a slow statement ends with
# statement_timeout, the database going away gives 503 (and /metrics still answers), and broken
# database connections are replaced. Slow clients run on 127.0.0.1 only, bounded in count and time.
. "$(dirname "$0")/http_lib.sh"

ACME=$(new_key acme)
key_args A "$ACME"

# --- slow clients -------------------------------------------------------------------------------
# 4 threads, 16 queue slots, 1 s to send a request (counted from accept). 12 clients, three times
# the threads, each trickle one byte of a request head every 0.2 s for up to 8 s, reconnecting
# whenever the server closes them.
start_server slow --http-threads 4 --http-max-queued 16 --http-request-timeout 1s --http-keep-alive-timeout 2s
ok $? "server with 4 threads, 16 queued connections, request timeout 1 s"
PORT=${T_PORTS[slow]}
cat >"$T_DIR/slowloris.py" <<'PY'
import socket, sys, threading, time
port, clients, duration = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
longest = [0.0]
lock = threading.Lock()
def client():
    end = time.time() + duration
    while time.time() < end:
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(0.5)
        opened = time.time()
        head = b"POST /jobs HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 5000
        try:
            for b in head:
                if time.time() >= end:
                    break
                s.send(bytes([b]))
                time.sleep(0.2)
                try:
                    if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                        break  # the server closed the connection
                except (BlockingIOError, socket.timeout):
                    pass
        except OSError:
            pass
        if time.time() < end:
            with lock:
                longest[0] = max(longest[0], time.time() - opened)
        s.close()
threads = [threading.Thread(target=client) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
print("%.2f" % longest[0])
PY
python3 "$T_DIR/slowloris.py" "$PORT" 12 8 >"$T_DIR/slowloris.out" 2>&1 &
SLOW=$!
sleep 1
served=0; worst=0
for i in $(seq 1 8); do
  t0=$(date +%s%N)
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 6 "http://127.0.0.1:$PORT/health")
  t=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$code" = 200 ] && served=$((served + 1))
  [ "$t" -gt "$worst" ] && worst=$t
  sleep 0.5
done
is "$served" 8 "under 12 slow clients, 8 of 8 health checks are answered (slowest ${worst} ms)"
wait "$SLOW"
longest=$(cat "$T_DIR/slowloris.out")
python3 -c "import sys; sys.exit(0 if float('$longest') < 2.0 else 1)"
ok $? "every slow connection was cut off within 2 s of connecting (longest ${longest} s; request timeout 1 s)"

# A complete head, then a body trickling in: cut off at the same deadline.
cat >"$T_DIR/slowbody.py" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(0.3)
s.sendall(b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
opened = time.time()
answer = b""
while time.time() - opened < 8:
    try:
        s.send(b" ")
    except OSError:
        break
    try:
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    except socket.timeout:
        pass
    except OSError:
        break
print("%.2f %s" % (time.time() - opened, answer[:12].decode(errors="replace")))
PY
read -r body_secs body_status < <(python3 "$T_DIR/slowbody.py" "$PORT")
python3 -c "import sys; sys.exit(0 if float('$body_secs') < 2.0 else 1)"
ok $? "a body trickling in is cut off at the request deadline too (${body_secs} s, answer: ${body_status:-none})"

# --- too many connections -----------------------------------------------------------------------
cat >"$T_DIR/flood.py" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
time.sleep(0.5)
rejected = 0
for s in socks:
    s.settimeout(0.2)
    try:
        if s.recv(64).startswith(b"HTTP/1.1 503"):
            rejected += 1
    except (socket.timeout, OSError):
        pass
print(rejected)
for s in socks: s.close()
PY
REJECTED=$(python3 "$T_DIR/flood.py" "$PORT" 40)
python3 -c "import sys; sys.exit(0 if $REJECTED >= 18 else 1)"
ok $? "40 idle connections: those beyond 4 threads + 16 queued get an immediate 503 ($REJECTED did)"
sleep 2.5
SERVER=slow req GET /health
is "$STATUS" 200 "afterwards the server serves again"
SERVER=slow req GET /metrics
echo "$BODY" | grep -Eq '^taskflow_http_connections_rejected_total [1-9]'
ok $? "/metrics counts the rejected connections"
stop_server slow

# --- headers, statement timeout -----------------------------------------------------------------
start_main "server with statement_timeout 300 ms" --http-statement-timeout 300ms
req GET /health -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' 'a')"
is "$STATUS" 400 "a 20 kB header line is refused"
req GET /health
is "$STATUS" 200 "and the server still serves"

req POST /jobs "${A[@]}" -d '{"job_type": "locked"}'
JOB=$(json_get "$BODY" '{id}')
psql -X -q -c "BEGIN; SELECT id FROM taskflow.jobs WHERE id = $JOB FOR UPDATE; SELECT pg_sleep(3); COMMIT" >/dev/null 2>&1 &
LOCKER=$!
sleep 0.5
t0=$(date +%s%N)
req POST "/jobs/$JOB/cancel" "${A[@]}"
t=$(( ($(date +%s%N) - t0) / 1000000 ))
is_problem 503 "a call stuck on a row lock ends at statement_timeout (${t} ms)"
is "$(json_get "$BODY" '{sqlstate}')" 57014 "with SQLSTATE 57014"
is "$(header Retry-After)" 1 "and Retry-After"
wait "$LOCKER"
is "$(sql "SELECT state FROM taskflow.jobs WHERE id = $JOB")" PENDING "the timed-out cancel changed nothing"

# --- broken database connections ----------------------------------------------------------------
req GET "/jobs/$JOB" "${A[@]}"
sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'taskflow-http' AND datname = current_database()" >/dev/null
sleep 0.3
codes=""
for i in 1 2 3; do req GET "/jobs/$JOB" "${A[@]}"; codes+="$STATUS "; done
case "$codes" in *"200 ") ok 0 "after its connections are killed the server reconnects ($codes)" ;;
  *) ok 1 "after its connections are killed the server reconnects ($codes)" ;; esac
req GET /metrics
echo "$BODY" | grep -Eq '^taskflow_http_db_reconnects_total [1-9]'
ok $? "/metrics counts the reconnect"

# --- no database --------------------------------------------------------------------------------
T_URL="postgresql://$T_LOGIN@127.0.0.1:1/$T_DB?connect_timeout=2" start_server nodb
ok $? "a server whose database is unreachable still starts"
SERVER=nodb req GET /health
is_problem 503 "/health without a database"
SERVER=nodb req POST /jobs "${A[@]}" -d '{"job_type": "x"}'
is_problem 503 "POST /jobs without a database"
SERVER=nodb req GET /metrics
is "$STATUS" 200 "/metrics still answers without a database"
grep -q '^taskflow_http_database_up 0' <<<"$BODY"
ok $? "and says the database is down"
printf '%s\n' "$BODY" | promtool check metrics >/dev/null 2>&1
ok $? "promtool accepts it"

done_testing
