#!/usr/bin/env bash
# scripts/upgrade_script.py, the generator of the upgrade script (docs/releasing.md, "The upgrade
# script"), on small made-up releases: what it generates, what it leaves to the hand-written
# part, how it splits statements, and how it refuses bad input. No database needed:
# test/t/upgrade.t runs the real script on a real server.
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"
cd "$(dirname "$0")/../.."
scratch_dir tfupgen
plan 15

cat >"$TMP/old.sql" <<'EOF'
\echo Use "CREATE EXTENSION x" to load this file. \quit
CREATE TABLE t.jobs (id bigint PRIMARY KEY);
CREATE INDEX jobs_a ON t.jobs (id);
-- unchanged, but for this comment and the white space
CREATE FUNCTION t.same(a int) RETURNS int LANGUAGE sql AS $$ SELECT a; $$;
CREATE FUNCTION t.changed(a int) RETURNS int LANGUAGE sql AS $$ SELECT a; $$;
INSERT INTO t.queues VALUES ('default');
EOF
cat >"$TMP/010_new.sql" <<'EOF'
\echo Use "CREATE EXTENSION x" to load this file. \quit
CREATE TABLE t.jobs (id bigint PRIMARY KEY, traceparent text);
CREATE INDEX jobs_a ON t.jobs (id);
CREATE INDEX jobs_b ON t.jobs (id) WHERE id > 0;
CREATE TABLE t.edges (a bigint, b bigint);
CREATE FUNCTION t.same(a int)
  RETURNS int LANGUAGE sql AS $$ SELECT a; $$;
-- the body has a ';' in a string, a dollar quote inside and a comment: one statement
-- (and this comment says CREATE EXTENSION, which stays as it is)
CREATE FUNCTION t.changed(a int) RETURNS int LANGUAGE plpgsql AS $body$
BEGIN
  RAISE NOTICE 'a;b'; -- not the end;
  RETURN (SELECT $$;$$::text)::int * 0 + a;
END
$body$;
CREATE FUNCTION t.added() RETURNS text LANGUAGE sql AS 'SELECT ''it''''s;''';
CREATE VIEW t.v AS SELECT 1 AS one;
INSERT INTO t.queues VALUES ('default');
INSERT INTO t.queues VALUES ('new');
COMMENT ON FUNCTION t.same IS 'unchanged: run again all the same';
GRANT EXECUTE ON FUNCTION t.same(int) TO someone;
DO $d$ BEGIN PERFORM 1; END $d$;
EOF
printf '%s\n' '-- hand-written' "\\echo Use \"ALTER EXTENSION x UPDATE\" to load this file. \\quit" \
  'ALTER TABLE t.jobs ADD COLUMN traceparent text;' '-- @generated' 'SELECT 1; -- after' >"$TMP/hand.sql"

out=$(python3 scripts/upgrade_script.py "$TMP/hand.sql" "$TMP/old.sql" "$TMP/010_new.sql" 2>&1); rc=$?
is "$rc" 0 "it builds a script from a hand-written part, the previous release and sql/src"
body=$(sed -n '/^-- --- 010_new.sql/,/^-- End of the generated part/p' <<<"$out")
is "$(grep -c 'FUNCTION t.same' <<<"$body")" 2 \
  "an unchanged function (comments and white space aside) is not generated; its COMMENT and GRANT are"
ok "$(grep -q '^CREATE OR REPLACE FUNCTION t.changed(a int) RETURNS int LANGUAGE plpgsql AS \$body\$' <<<"$body"; echo $?)" \
  "a changed function is generated as CREATE OR REPLACE"
ok "$(grep -q '^-- (and this comment says CREATE EXTENSION, which stays as it is)$' <<<"$body"; echo $?)" \
  "the CREATE of a comment above the statement is not the one made CREATE OR REPLACE"
is "$(sed -n '/t.changed/,/^\$body\$;/p' <<<"$body" | wc -l)" 6 \
  "';' inside a string, a comment or another dollar quote does not end the statement"
ok "$(grep -qF "CREATE OR REPLACE FUNCTION t.added() RETURNS text LANGUAGE sql AS 'SELECT ''it''''s;''';" <<<"$body"; echo $?)" \
  "a new function is generated whole (a ';' inside doubled quotes)"
ok "$(grep -q '^CREATE OR REPLACE VIEW t.v' <<<"$body"; echo $?)" "a new view is generated as CREATE OR REPLACE"
ok "$(grep -q '^CREATE TABLE t.edges' <<<"$body" && grep -q '^CREATE INDEX jobs_b' <<<"$body"; echo $?)" \
  "a new table and a new index are generated"
is "$(grep -c '^CREATE TABLE t.jobs\|^CREATE INDEX jobs_a\|^INSERT' <<<"$body")" 0 \
  "an existing table and index, and INSERTs, are not"
is "$(sed -n '/left to the hand-written part/,/^-- =/p' <<<"$out" | grep -c '^--   010_new.sql: ')" 2 \
  "the changed CREATE TABLE and the new INSERT are listed for the hand-written part"
ok "$(grep -q '^DO \$d\$' <<<"$body" && ! grep -q '\\echo' <<<"$body"; echo $?)" \
  "a DO block runs again; psql lines are left out"
is "$(grep -n 'ADD COLUMN traceparent\|^-- --- 010_new.sql\|^SELECT 1; -- after' <<<"$out" | cut -d: -f2 | cut -c1-10 | tr '\n' '|')" \
  "ALTER TABL|-- --- 010|SELECT 1; |" "the hand-written lines above -- @generated come first, those below it last"

printf 'SELECT 1;\n' >"$TMP/nomarker.sql"
out=$(python3 scripts/upgrade_script.py "$TMP/nomarker.sql" "$TMP/old.sql" "$TMP/010_new.sql" 2>&1); rc=$?
ok "$([ "$rc" -ne 0 ] && grep -q "no '-- @generated' line" <<<"$out"; echo $?)" \
  "a hand-written part without the -- @generated line is refused"
printf 'CREATE FUNCTION t.f() RETURNS int LANGUAGE sql AS $x$ SELECT 1;\n' >"$TMP/020_open.sql"
out=$(python3 scripts/upgrade_script.py "$TMP/hand.sql" "$TMP/old.sql" "$TMP/020_open.sql" 2>&1); rc=$?
ok "$([ "$rc" -ne 0 ] && grep -q 'unterminated \$x\$' <<<"$out"; echo $?)" \
  "an unterminated dollar quote is refused with its tag"

# The real one: the tree's script builds, and what it leaves to the hand-written part is what
# that part covers (jobs and api_keys: sections 1; tenants: 0.1.0 added two columns with ALTER
# TABLE, 0.2.0 declares them in its CREATE TABLE, the same table). A new entry here needs a
# decision in sql/updates/ (and upgrade.t shows whether it is right).
out=$(python3 scripts/upgrade_script.py sql/updates/taskflow--0.1.0--0.2.0.sql sql/releases/taskflow--0.1.0.sql \
        $(ls sql/src/*.sql | sort) | sed -n '/left to the hand-written part/,/^-- =/p' | grep -o '^--   [^ ]* [A-Z ]* [a-z_.]*' | tr '\n' '|')
is "$out" "--   010_tables.sql: CREATE TABLE taskflow.jobs|--   015_tenancy.sql: CREATE TABLE taskflow.tenants|--   080_http.sql: CREATE TABLE taskflow.api_keys|" \
  "0.1.0 -> 0.2.0 leaves the changed tables jobs, tenants and api_keys to the hand-written part"
done_testing
