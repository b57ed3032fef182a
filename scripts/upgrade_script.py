#!/usr/bin/env python3
"""Builds the upgrade script of the release in progress (docs/releasing.md, "The upgrade script").

    upgrade_script.py HAND.sql PREVIOUS.sql SRC.sql... > sql/taskflow--PREV--NEXT.sql

HAND.sql      sql/updates/taskflow--PREV--NEXT.sql: what only a person can write (new columns of
              existing tables, data migrations, DROPs of functions whose signature changed). A
              line `-- @generated` marks where the generated statements go: the part above it
              runs before them, the part below after them.
PREVIOUS.sql  the frozen install script of the previous release (sql/releases/).
SRC.sql       sql/src/*.sql in name order: the install script of the release in progress.

Generated, statement by statement in sql/src's order:
  - a function, procedure, aggregate, view or trigger whose statement is not in PREVIOUS (new or
    changed) as CREATE OR REPLACE;
  - a table, index, type, sequence, schema, policy or event trigger that PREVIOUS does not create
    (a changed one of these is the hand-written part's: it is listed in a comment, and
    test/t/upgrade.t names what differs);
  - every statement that sets something on existing objects and may run again: COMMENT, GRANT,
    REVOKE, ALTER FUNCTION/PROCEDURE/AGGREGATE/ROLE, ALTER TABLE ... ROW LEVEL SECURITY, DO and
    SELECT (sql/src keeps each of these idempotent), so that what the statements above created or
    replaced gets its comments, privileges and settings as in a fresh install, in the same order.
Any other statement that is not in PREVIOUS (an INSERT, another ALTER) is listed, not generated.
Exits 1 with a message when a file cannot be split into statements.
"""
import re
import sys

DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def _skip_string(text, i, quote):
    """Index after the quoted string or identifier starting at text[i] (doubled quotes escape)."""
    j = i + 1
    while True:
        j = text.find(quote, j)
        if j < 0:
            raise ValueError("unterminated %s at offset %d" % (quote, i))
        if text.startswith(quote * 2, j):
            j += 2
            continue
        return j + 1


def _skip_dollar(text, i):
    """Index after the dollar-quoted string at text[i], or None when text[i] starts none."""
    m = DOLLAR.match(text, i)
    if not m or (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
        return None
    end = text.find(m.group(0), m.end())
    if end < 0:
        raise ValueError("unterminated %s at offset %d" % (m.group(0), i))
    return end + len(m.group(0))


def scan(text, keep_comments=True):
    """Splits SQL into statements (each with the comments before it, up to its ';'), or with
    keep_comments=False returns the text without its -- and /* */ comments (as one string)."""
    out, plain = [], []
    i, start, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("--", i) or text.startswith("/*", i):
            j = text.find("\n", i) if c == "-" else text.find("*/", i + 2) + 2
            j = n if j < 0 or (c == "/" and j == 1) else j
            i = j
            continue
        if c in "'\"":
            j = _skip_string(text, i, c)
        elif c == "$" and _skip_dollar(text, i) is not None:
            j = _skip_dollar(text, i)
        elif c == "\\" and (i == 0 or text[i - 1] == "\n"):  # a psql line (\echo ... \quit)
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(text[start:j])
            plain.append(text[i:j])
            start = i = j
            continue
        else:
            j = i + 1
            if c == ";":
                plain.append(c)
                out.append(text[start:j])
                start = i = j
                continue
        plain.append(text[i:j])
        i = j
    if text[start:].strip():
        out.append(text[start:])
    return out if keep_comments else "".join(plain)


def norm(statement):
    """The statement without comments, white space folded: what two releases compare."""
    return " ".join(scan(statement, keep_comments=False).split())


# The statement's CREATE keyword, after its leading comment lines (which may say "CREATE" too).
LEADING_CREATE = re.compile(r"\A((?:[ \t]*(?:--[^\n]*)?\n)*[ \t]*)CREATE (?!OR REPLACE)")
REPLACEABLE = re.compile(r"^CREATE (OR REPLACE )?(FUNCTION|PROCEDURE|AGGREGATE|VIEW|TRIGGER)\b")
CREATED = [  # (pattern, kind): objects created once; group 1 (and 2) name the object
    (r"^CREATE (?:UNLOGGED )?TABLE (?:IF NOT EXISTS )?([\w.\"]+)", "table"),
    (r"^CREATE (?:UNIQUE )?INDEX (?:IF NOT EXISTS )?([\w.\"]+) ON", "index"),
    (r"^CREATE TYPE ([\w.\"]+)", "type"),
    (r"^CREATE SEQUENCE (?:IF NOT EXISTS )?([\w.\"]+)", "sequence"),
    (r"^CREATE SCHEMA (?:IF NOT EXISTS )?([\w.\"]+)", "schema"),
    (r"^CREATE POLICY ([\w\"]+) ON ([\w.\"]+)", "policy"),
    (r"^CREATE EVENT TRIGGER ([\w\"]+)", "event trigger"),
]
RERUN = re.compile(
    r"^(COMMENT ON|GRANT|REVOKE|DO|SELECT|ALTER (FUNCTION|PROCEDURE|AGGREGATE|ROUTINE|ROLE)\b|"
    r"ALTER TABLE [\w.\"]+ (ENABLE|DISABLE|FORCE|NO FORCE) ROW LEVEL SECURITY)"
)


def created(plain):
    for pattern, kind in CREATED:
        m = re.match(pattern, plain)
        if m:
            return (kind,) + m.groups()
    return None


def first_line(plain):
    return plain if len(plain) <= 100 else plain[:97] + "..."


def generate(previous_text, sources):
    """The generated statements (text) and the list of changed statements left to a person."""
    before = [norm(s) for s in scan(previous_text)]
    seen = set(before)
    objects = {created(s) for s in before} - {None}
    parts, left = [], []
    for name, text in sources:
        block = []
        for statement in scan(text):
            plain = norm(statement)
            if not plain or plain.startswith("\\"):
                continue
            if REPLACEABLE.match(plain):
                if plain not in seen:
                    block.append(LEADING_CREATE.sub(r"\1CREATE OR REPLACE ", statement, count=1))
            elif created(plain):
                if created(plain) not in objects:
                    block.append(statement)
                elif plain not in seen:
                    left.append("%s: %s" % (name, first_line(plain)))
            elif RERUN.match(plain):
                block.append(statement)
            elif plain not in seen:
                left.append("%s: %s" % (name, first_line(plain)))
        if block:
            parts.append("\n-- --- %s\n" % name + "".join(s.strip("\n") + "\n" for s in block))
    return "".join(parts), left


def main(argv):
    if len(argv) < 4:
        sys.exit("usage: upgrade_script.py HAND.sql PREVIOUS.sql SRC.sql...")
    hand_path, previous_path, source_paths = argv[1], argv[2], argv[3:]
    hand = open(hand_path).read()
    marker = re.search(r"^-- @generated.*\n", hand, re.M)
    if not marker:
        sys.exit("%s: no '-- @generated' line (where the generated statements go)" % hand_path)
    try:
        sources = [(p.rsplit("/", 1)[-1], open(p).read()) for p in source_paths]
        generated, left = generate(open(previous_path).read(), sources)
        scan(hand)  # the hand-written part splits into statements too
    except ValueError as e:
        sys.exit("upgrade_script.py: %s" % e)
    out = sys.stdout
    out.write("-- GENERATED by scripts/upgrade_script.py from %s (hand-written), %s and sql/src/*.sql:\n"
              "-- edit those, never this file (docs/releasing.md).\n" % (hand_path, previous_path))
    out.write(hand[: marker.start()])
    out.write("-- " + "=" * 93 + "\n-- Generated from sql/src (scripts/upgrade_script.py): what differs from %s,\n"
              "-- and the statements that set comments, privileges and settings, in sql/src's order.\n"
              % previous_path.rsplit("/", 1)[-1])
    if left:
        out.write("-- Changed since then and left to the hand-written part:\n")
        out.write("".join("--   %s\n" % line for line in left))
    out.write("-- " + "=" * 93 + "\n")
    out.write(generated)
    out.write("\n-- " + "=" * 93 + "\n-- End of the generated part.\n")
    out.write(hand[marker.end():])


if __name__ == "__main__":
    main(sys.argv)
