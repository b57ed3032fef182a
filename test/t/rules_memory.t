#!/usr/bin/env bash
# Issue 10, memory amplification: one handle_webhook call with a 1 MB body to a "for_each":
# "tenant" rule over 200 tenants (each tenant's context holds the body), and one to a rule whose
# 200 placeholders each copy the body, used to peak at about 600 MB in the backend. Now each
# firing's memory is freed before the next one, rendering stops as soon as a payload passes
# taskflow.max_payload_bytes, and taskflow.max_rule_render_bytes bounds the whole call: the
# backend's peak (VmHWM) grows by well under 200 MB, and the refusals are failed firings (54000).
# Reads /proc of the server backend: the cluster must run on this machine.
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"
require_db

OUT=$(psql -X -q -At -v ON_ERROR_STOP=1 2>&1 <<'SQL'
BEGIN;
SELECT taskflow.create_queue('mem_q') \g /dev/null
SELECT taskflow.upsert_tenant('mem_t' || i) FROM generate_series(1, 200) i \g /dev/null
-- for_each fans out over every tenant of the database (other suites may have left some)
SELECT 'tenants ' || count(*) FROM taskflow.tenants;
SELECT taskflow.create_rule('mem fan out', '{"type": "webhook", "for_each": "tenant", "secret": null, "key": "mem-fan-key-0123456789abcdef"}',
  '[{"job_type": "m", "queue": "mem_q", "payload": {"b": "{{ $.event.body }}"}}]') \g /dev/null
SELECT taskflow.create_rule('mem copies', '{"type": "webhook", "secret": null, "key": "mem-amp-key-0123456789abcdef"}',
  jsonb_build_array(jsonb_build_object('job_type', 'amp', 'queue', 'mem_q', 'payload',
    (SELECT jsonb_object_agg('k' || i, '{{ $.event.body }}') FROM generate_series(1, 200) i)))) \g /dev/null
\set body `printf '"%01000000d"' 0`
SELECT 'fan ' || count(*) FROM taskflow.handle_webhook('mem-fan-key-0123456789abcdef', :'body');
SELECT 'copies ' || count(*) FROM taskflow.handle_webhook('mem-amp-key-0123456789abcdef', :'body');
SELECT 'firings ' || string_agg(r.name || ':' || COALESCE(f.error_sqlstate, 'ok') || ':' || f.n, ',' ORDER BY r.name, f.error_sqlstate)
FROM (SELECT rule_id, error_sqlstate, count(*) AS n FROM taskflow.rule_firings GROUP BY 1, 2) f
JOIN taskflow.automation_rules r ON r.id = f.rule_id WHERE r.name LIKE 'mem %';
ROLLBACK;
SQL
)
plan 4
FAN=$(printf '%s\n' "$OUT" | sed -n 's/^fan //p')
TENANTS=$(printf '%s\n' "$OUT" | sed -n 's/^tenants //p')
ok "$([ -n "$FAN" ] && [ "$FAN" -gt 0 ] && [ "$FAN" -lt "${TENANTS:-200}" ] && echo 0 || echo 1)" \
  "the for_each webhook call succeeds; the first ${FAN:-?} tenants, within taskflow.max_rule_render_bytes, get their job"
is "$(printf '%s\n' "$OUT" | sed -n 's/^copies //p')" "0" \
  "the 200-placeholder webhook call succeeds and creates no job"
is "$(printf '%s\n' "$OUT" | sed -n 's/^firings //p')" "mem copies:54000:1,mem fan out:54000:$(( ${TENANTS:-200} - ${FAN:-0} )),mem fan out:ok:${FAN:-0}" \
  "the refusals are recorded as failed firings (54000), one per refused tenant"

# The peak: run the same calls in a backend we can watch, reading VmHWM before and after.
PEAK=$(psql -X -q -At -v ON_ERROR_STOP=1 2>&1 <<'SQL'
BEGIN;
SELECT taskflow.create_queue('mem_q') \g /dev/null
SELECT taskflow.upsert_tenant('mem_t' || i) FROM generate_series(1, 200) i \g /dev/null
SELECT taskflow.create_rule('mem fan out', '{"type": "webhook", "for_each": "tenant", "secret": null, "key": "mem-fan-key-0123456789abcdef"}',
  '[{"job_type": "m", "queue": "mem_q", "payload": {"b": "{{ $.event.body }}"}}]') \g /dev/null
SELECT taskflow.create_rule('mem copies', '{"type": "webhook", "secret": null, "key": "mem-amp-key-0123456789abcdef"}',
  jsonb_build_array(jsonb_build_object('job_type', 'amp', 'queue', 'mem_q', 'payload',
    (SELECT jsonb_object_agg('k' || i, '{{ $.event.body }}') FROM generate_series(1, 200) i)))) \g /dev/null
SELECT pg_backend_pid() AS pid \gset
\set body `printf '"%01000000d"' 0`
\setenv MEMPID :pid
\! echo "before $(awk '/VmHWM/ {print $2}' /proc/$MEMPID/status)"
SELECT count(*) FROM taskflow.handle_webhook('mem-fan-key-0123456789abcdef', :'body') \g /dev/null
SELECT count(*) FROM taskflow.handle_webhook('mem-amp-key-0123456789abcdef', :'body') \g /dev/null
\! echo "after $(awk '/VmHWM/ {print $2}' /proc/$MEMPID/status)"
ROLLBACK;
SQL
)
BEFORE=$(printf '%s\n' "$PEAK" | sed -n 's/^before //p')
AFTER=$(printf '%s\n' "$PEAK" | sed -n 's/^after //p')
if [ -z "$BEFORE" ] || [ -z "$AFTER" ]; then
  ok 1 "the backend's peak memory can be read from /proc (is the server on this machine?)"
  printf '# %s\n' "$PEAK"
else
  GROWTH=$(( (AFTER - BEFORE) / 1024 ))
  ok "$([ "$GROWTH" -lt 200 ] && echo 0 || echo 1)" \
    "the backend's peak memory grows by ${GROWTH} MB (< 200 MB; it was about 600 MB)"
fi
done_testing
