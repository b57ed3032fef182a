#!/usr/bin/env bash
# The C++ library in a service: worker/examples/embedded_worker.cpp (Worker::On) runs
# jobs on the default queue, fails bad payloads without retry, and stops on SIGTERM.
source "$(dirname "$0")/worker_lib.sh"

EXAMPLE=$(dirname "$WORKER_BIN")/taskflow-worker-example
if [ ! -x "$EXAMPLE" ]; then
  echo "Bail out! no example binary at $EXAMPLE (built with taskflow-worker)"
  exit 1
fi
"$EXAMPLE" >"$T_DIR/example.log" 2>&1 &
T_WORKERS[example]=$!

greet=$(sql "SELECT taskflow.schedule('greet', '{\"name\": \"Ada\"}')")
nameless=$(sql "SELECT taskflow.schedule('greet', '{}')")
count=$(sql "SELECT taskflow.schedule('count', '{\"to\": 3}')")
one=$(sql "SELECT taskflow.schedule('count', '{\"to\": 1}')")
total=$(sql "SELECT taskflow.schedule('total', depends_on => ARRAY[$count, $one])")
wait_until 15 "SELECT bool_and(state IN ('SUCCEEDED', 'FAILED', 'DEAD')) FROM taskflow.jobs WHERE id IN ($greet, $nameless, $count, $one, $total)"
ok $? "the embedded worker finished the jobs" || show_log example
is "$(sql "SELECT state || ' ' || (result ->> 'greeting') FROM taskflow.jobs WHERE id = $greet")" \
  "SUCCEEDED Hello, Ada!" "a handler's Outcome::Succeeded result is stored"
is "$(sql "SELECT concat_ws(' ', state, attempts, last_error_type) FROM taskflow.jobs WHERE id = $nameless")" \
  "FAILED 1 bad_payload" "Outcome::Failed(..., retryable=false) fails without retry"
is "$(sql "SELECT state || ' ' || (result ->> 'counted') FROM taskflow.jobs WHERE id = $count")" \
  "SUCCEEDED 3" "a handler using JobContext::SleepFor completes"
is "$(sql "SELECT concat_ws(' ', state, result ->> 'total', result ->> 'from') FROM taskflow.jobs WHERE id = $total")" \
  "SUCCEEDED 4 2" "a fan-in handler reads its dependencies' results in Job::dependencies"
stop_worker example TERM
is "$W_STATUS" 0 "SIGTERM stops it with exit 0"
done_testing
