#!/usr/bin/env python3
"""Compares the taskflow extension's objects in two databases of one server.

    test/upgrade/schema_diff.py UPGRADED_DB FRESH_DB

Runs test/upgrade/schema_snapshot.sql in each (psql, libpq environment for host, port, user)
and prints one block per object that differs: missing after the upgrade, left over by the
upgrade (not in a fresh install), or different, with a line diff of the definition. For a
function the fresh definition is printed in full, ready for the upgrade script. Exits 1 when
anything differs, 0 (and prints nothing) when the two are the same.
"""
import difflib
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def snapshot(db):
    out = subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db,
         "-f", os.path.join(HERE, "schema_snapshot.sql")],
        check=True, capture_output=True, text=True).stdout
    rows = json.loads(out) if out.strip() else []
    return {(r["kind"], r["name"]): r["detail"] for r in rows}


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    upgraded_db, fresh_db = argv
    try:
        up, fresh = snapshot(upgraded_db), snapshot(fresh_db)
    except subprocess.CalledProcessError as e:
        print(f"schema snapshot failed: {e.stderr.strip()}")
        return 2
    problems = 0
    for key in sorted(set(up) | set(fresh)):
        kind, name = key
        if key not in up:
            problems += 1
            print(f"MISSING after the upgrade: {kind} {name}")
            print("  a fresh install has:")
            for line in fresh[key].splitlines():
                print(f"    {line}")
        elif key not in fresh:
            problems += 1
            print(f"LEFT OVER by the upgrade (not in a fresh install): {kind} {name}")
            for line in up[key].splitlines():
                print(f"    {line}")
        elif up[key] != fresh[key]:
            problems += 1
            print(f"DIFFERS: {kind} {name}")
            for line in difflib.unified_diff(up[key].splitlines(), fresh[key].splitlines(),
                                             "after the upgrade", "fresh install", lineterm="", n=2):
                print(f"    {line}")
    if problems:
        print(f"{problems} object(s) differ between {upgraded_db} (upgraded) and {fresh_db} (fresh); "
              "see docs/releasing.md, 'When upgrade.t fails'")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
