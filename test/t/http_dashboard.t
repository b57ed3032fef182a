#!/usr/bin/env bash
# The dashboard over HTTP: its files at / and /assets/* (embedded at build time, with caching,
# Content-Security-Policy and nosniff headers, no inline script, nothing from another origin),
# GET /dashboard/api/session and GET /dashboard/api/overview (a client key gets only its tenant).
. "$(dirname "$0")/http_lib.sh"

ADMIN=$(new_key '' admin)
ACME=$(new_key acme)
start_main "taskflow-http starts"

# --- the files -----------------------------------------------------------------------------------
req GET /
is "$STATUS $(header Content-Type)" "200 text/html; charset=utf-8" "GET / is the dashboard's index.html"
is "$(header Cache-Control)" "no-cache" "index.html is revalidated on every load"
is "$(header X-Content-Type-Options)" "nosniff" "X-Content-Type-Options: nosniff"
csp=$(header Content-Security-Policy)
case "$csp" in *"script-src 'self';"*"connect-src 'self'"*"frame-ancestors 'none'"*) ok 0 "a strict Content-Security-Policy: $csp" ;;
  *) ok 1 "a strict Content-Security-Policy"; diag "got: $csp" ;; esac
case "$csp" in *unsafe-inline*|*unsafe-eval*|*http:*|*https:*) ok 1 "the policy allows no inline script and no other origin" ;;
  *) ok 0 "the policy allows no inline script and no other origin" ;; esac
index=$BODY
echo "$index" | grep -Eq '<script[^>]*>[^<]' && ok 1 "index.html has no inline script" || ok 0 "index.html has no inline script"
echo "$index" | grep -Eqi '(src|href)="(https?:)?//' && ok 1 "index.html loads nothing from another origin" ||
  ok 0 "index.html loads nothing from another origin"
js=$(echo "$index" | sed -n 's/.*<script[^>]*src="\(\/assets\/[^"]*\.js\)".*/\1/p' | head -1)
css=$(echo "$index" | sed -n 's/.*<link[^>]*href="\(\/assets\/[^"]*\.css\)".*/\1/p' | head -1)
ok "$([ -n "$js" ] && [ -n "$css" ]; echo $?)" "index.html names its hashed script and stylesheet ($js, $css)"
req GET "$js"
is "$STATUS $(header Content-Type)" "200 text/javascript; charset=utf-8" "the script is served with its type"
is "$(header Cache-Control)" "public, max-age=31536000, immutable" "hashed assets are cached as immutable"
echo "$BODY" | grep -Eq 'https?://(cdn|unpkg|fonts)\.' && ok 1 "the script loads nothing from a CDN" || ok 0 "the script loads nothing from a CDN"
req GET "$css"
is "$STATUS $(header Content-Type)" "200 text/css; charset=utf-8" "the stylesheet is served with its type"
req GET /assets/nope-123.js
is_problem 404 "GET a file the dashboard does not have"
req GET /index.html
is "$STATUS" 200 "GET /index.html is index.html too"
req POST / -d 'x'
ok "$([ "$STATUS" -ge 400 ] && [ "$STATUS" -lt 500 ]; echo $?)" "POST / is refused ($STATUS)"

# --- session ---------------------------------------------------------------------------------------
req GET /dashboard/api/session
is_problem 401 "GET /dashboard/api/session without a key"
req GET /dashboard/api/session -H "Authorization: Bearer tfk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
is_problem 401 "GET /dashboard/api/session with a bad key"
req GET /dashboard/api/session -H "Authorization: Bearer $ADMIN"
is "$STATUS $(json_sql "$BODY" "SELECT (:'j'::jsonb) ->> 'role' || ' ' || COALESCE((:'j'::jsonb) ->> 'tenant_id', '-')")" \
  "200 admin -" "an admin key: role admin, no tenant"
req GET /dashboard/api/session -H "Authorization: Bearer $ACME"
is "$STATUS $(json_sql "$BODY" "SELECT (:'j'::jsonb) ->> 'role' || ' ' || ((:'j'::jsonb) ->> 'tenant_id') || ' ' || ((:'j'::jsonb) ->> 'version')")" \
  "200 client acme $(sql "SELECT extversion FROM pg_extension WHERE extname = 'taskflow'")" "a client key: role client, its tenant, the version"

# --- overview ---------------------------------------------------------------------------------------
sql "SELECT taskflow.create_queue('dash_a'), taskflow.create_queue('dash_b')" >/dev/null
sql "SELECT taskflow.schedule('j', '{}', queue => 'dash_a', tenant_id => 'acme'),
            taskflow.schedule('j', '{}', queue => 'dash_a', tenant_id => 'globex'),
            taskflow.schedule('j', '{}', queue => 'dash_b', tenant_id => 'globex')" >/dev/null
req GET /dashboard/api/overview -H "Authorization: Bearer $ADMIN"
is "$STATUS $(json_sql "$BODY" "SELECT string_agg(q ->> 'name' || '=' || (q -> 'counts' ->> 'PENDING'), ',' ORDER BY q ->> 'name') FROM jsonb_array_elements((:'j'::jsonb) -> 'queues') q WHERE q ->> 'name' LIKE 'dash%'")" \
  "200 dash_a=2,dash_b=1" "an admin key sees every tenant's jobs"
is "$(json_get "$BODY" '{bucket_seconds}')|$(json_sql "$BODY" "SELECT jsonb_array_length((:'j'::jsonb) -> 'queues' -> 0 -> 'series') BETWEEN 60 AND 61")" \
  "60|t" "the default range is the last hour in 1-minute buckets"
req GET "/dashboard/api/overview?range=24h" -H "Authorization: Bearer $ADMIN"
is "$STATUS $(json_get "$BODY" '{bucket_seconds}')" "200 900" "range=24h: 15-minute buckets"
req GET /dashboard/api/overview -H "Authorization: Bearer $ACME"
is "$STATUS $(json_sql "$BODY" "SELECT string_agg(q ->> 'name' || '=' || (q -> 'counts' ->> 'PENDING'), ',' ORDER BY q ->> 'name') FROM jsonb_array_elements((:'j'::jsonb) -> 'queues') q")" \
  "200 dash_a=1" "a client key sees only its tenant's queue and jobs"
is "$(json_sql "$BODY" "SELECT (:'j'::jsonb) -> 'tenants'")" '[{"weight": 1, "running": 0, "tenant_id": "acme", "max_running": null}]' \
  "a client key sees only itself among the tenants"
req GET "/dashboard/api/overview?range=7d" -H "Authorization: Bearer $ADMIN"
is_problem 400 "range=7d"
req GET "/dashboard/api/overview?tenant=globex" -H "Authorization: Bearer $ACME"
is_problem 400 "an unknown parameter (no way to ask for another tenant)"
req GET /dashboard/api/overview
is_problem 401 "the overview without a key"
req GET /openapi.json
is "$(json_sql "$BODY" "SELECT (:'j'::jsonb) -> 'paths' ? '/dashboard/api/overview' AND (:'j'::jsonb) -> 'paths' ? '/dashboard/api/session'")" t \
  "/openapi.json documents the dashboard's API"
done_testing
