#!/usr/bin/env bash
# 500 jobs through the command executor, two workers competing for them: all
# SUCCEEDED, each executed exactly once. Also: clean SIGTERM exit, json logs.
source "$(dirname "$0")/worker_lib.sh"

Q="wt_500_$$"
make_queue "$Q"
LEDGER="$T_DIR/ledger"
: >"$LEDGER"
handler_script handler <<'SH'
#!/bin/sh
# One short line per run: appends of less than PIPE_BUF bytes do not interleave.
payload=$(cat)
echo "$TASKFLOW_JOB_ID $TASKFLOW_ATTEMPT $TASKFLOW_TENANT_ID" >>"$LEDGER"
printf '{"echo": %s}\n' "$payload"
SH
cat >"$T_DIR/handlers.json" <<JSON
{"handlers": {"echo": {"executor": "command", "command": ["$T_DIR/handler.sh"],
                       "env": {"LEDGER": "$LEDGER"}, "timeout": "30s"}}}
JSON

sql "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object(
       'job_type', 'echo', 'queue', '$Q', 'tenant_id', 't' || (i % 3), 'payload', jsonb_build_object('i', i)))
       FROM generate_series(1, 500) i))" >/dev/null
start=$(date +%s%N)
start_worker a --queue "$Q" --config "$T_DIR/handlers.json" --concurrency 8
start_worker b --queue "$Q" --config "$T_DIR/handlers.json" --concurrency 8 --log-format json

wait_until 120 "SELECT count(*) = 500 FROM taskflow.jobs WHERE queue = '$Q' AND state = 'SUCCEEDED'"
ok $? "all 500 jobs SUCCEEDED"
diag "drained in $(( ($(date +%s%N) - start) / 1000000 )) ms"

is "$(wc -l <"$LEDGER" | tr -d ' ')" 500 "the handler ran 500 times"
is "$(cut -d' ' -f1 "$LEDGER" | sort -u | wc -l | tr -d ' ')" 500 "each job ran once"
is "$(awk '$2 != 1' "$LEDGER" | wc -l | tr -d ' ')" 0 "every run was attempt 1"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE queue = '$Q' AND attempts <> 1")" 0 "no job needed a second attempt"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE queue = '$Q' AND result = jsonb_build_object('echo', payload)")" 500 \
  "each result is the handler's JSON stdout"
is "$(sql "SELECT count(DISTINCT a.worker_id) FROM taskflow.job_attempts a JOIN taskflow.jobs j ON j.id = a.job_id WHERE j.queue = '$Q'")" 2 \
  "both workers took part"
is "$(awk '{print $3}' "$LEDGER" | sort -u | tr '\n' ' ')" "t0 t1 t2 " "TASKFLOW_TENANT_ID reaches the handler"

stop_worker a TERM
is "$W_STATUS" 0 "worker a exits 0 on SIGTERM"
stop_worker b INT
is "$W_STATUS" 0 "worker b exits 0 on SIGINT"

grep -q 'job succeeded job_id=[0-9]* job_type=echo queue='"$Q"' tenant_id=t[0-2] attempt=1 duration_ms=[0-9]* state=SUCCEEDED' "$T_DIR/a.log"
ok $? "text log lines carry job_id, job_type, queue, tenant_id, attempt, duration_ms"
perl -MJSON::PP -ne 'my $o = decode_json($_); exit 1 unless $o->{ts} && $o->{level} && $o->{msg}' "$T_DIR/b.log"
ok $? "every json log line is one JSON object with ts, level, msg"
perl -MJSON::PP -ne 'my $o = decode_json($_); $n++ if $o->{msg} eq "job succeeded" && $o->{job_id} && $o->{queue} eq "'"$Q"'"
  && defined $o->{duration_ms} && $o->{attempt} == 1 && exists $o->{correlation_id}; END { exit($n > 0 ? 0 : 1) }' "$T_DIR/b.log"
ok $? "json job lines carry the job fields"

done_testing
