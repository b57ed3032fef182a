#!/usr/bin/env python3
"""No function longer than MAX_LINES lines (issue 14): a reader should meet named steps, not a
wall of code. Checks the C++ function bodies in extension/, worker/ and bench/ (from the line of
the opening brace to the line of the closing one; lambdas and local classes count toward the
function around them) and the SQL function bodies in sql/src/ (from the opening dollar quote to
the closing one; C functions have none). Data tables are exempt, each by name in EXEMPT with
its reason; an exemption that no longer matches a long function fails too, so the list cannot
go stale.

Usage: test/function_length.py [--max N] [ROOT]   (ROOT: the repository, default: this file's
parent's parent). Prints each offence as "path:line: name: N lines" and exits 1 when any.
"""
import os
import re
import subprocess
import sys

MAX_LINES = 80

CPP_DIRS = ("extension", "worker", "bench")
CPP_SUFFIXES = (".cpp", ".hpp", ".h", ".cc", ".inc")
SQL_DIRS = ("sql/src",)

# (path, function name) -> why it may be long. Only data tables belong here.
EXEMPT = {
    ("worker/http/src/statements.cpp", "Build"):
        "data table: the HTTP server's named statements, one row each",
}


def tracked_files(root, dirs, suffixes):
    try:
        out = subprocess.check_output(["git", "-C", root, "ls-files", "--", *dirs], text=True,
                                      stderr=subprocess.DEVNULL)
        paths = out.split()
    except (OSError, subprocess.CalledProcessError):
        paths = []
        for d in dirs:
            for base, _, names in os.walk(os.path.join(root, d)):
                paths += [os.path.relpath(os.path.join(base, n), root) for n in names]
    return sorted(p for p in paths if p.endswith(suffixes) and os.path.isfile(os.path.join(root, p)))


def blank_cpp(text):
    """The text with comments, string and character literals blanked (newlines kept), so that
    braces inside them do not count."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^(\s]{0,16})\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = ")" + m.group(1) + '"'
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * (j - i - 2) + c if j - i >= 2 else text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def cpp_functions(text):
    """(name, first line, line count) of every function body outside another function."""
    code = blank_cpp(text)
    stack = []  # (kind, start offset, name)
    header_start = 0
    found = []
    for i, c in enumerate(code):
        if c == ";":
            if not any(kind == "function" for kind, _, _ in stack):
                header_start = i + 1
        elif c == "{":
            inside = any(kind in ("function", "other") for kind, _, _ in stack)
            header = code[header_start:i]
            kind, name = "other", ""
            if not inside:
                h = " ".join(header.split())
                if re.search(r'\b(namespace)\b|extern\s+""', h) or re.search(r'extern\s+"C"', header):
                    kind = "namespace"
                elif re.search(r"\b(class|struct|union)\b", h) and "(" not in h.split("{")[0].split(":")[0]:
                    kind = "class"
                elif re.search(r"\benum\b", h):
                    kind = "other"
                elif "(" in h and not re.search(r"=\s*$", h) and not h.rstrip().endswith(("=", ",")):
                    before = h[: h.index("(")].strip()
                    m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", before)
                    if m and not re.search(r"=", before):
                        kind, name = "function", m.group(1)
            stack.append((kind, i, name))
            header_start = i + 1
        elif c == "}":
            if stack:
                kind, start, name = stack.pop()
                if kind == "function":
                    first = code.count("\n", 0, start) + 1
                    last = code.count("\n", 0, i) + 1
                    found.append((name, first, last - first + 1))
            if not any(kind == "function" for kind, _, _ in stack):
                header_start = i + 1
    return found


SQL_CREATE = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+([\w.]+)\s*\(", re.I)
SQL_BODY = re.compile(r"\bAS\s+(\$[A-Za-z_0-9]*\$|')", re.I)


def sql_functions(text):
    """(name, first line, line count) of every dollar-quoted function body."""
    found = []
    for m in SQL_CREATE.finditer(text):
        body = SQL_BODY.search(text, m.end())
        if not body or body.group(1) == "'":
            continue  # a C function (AS 'MODULE_PATHNAME', ...)
        tag = body.group(1)
        end = text.find(tag, body.end())
        if end < 0:
            continue
        first = text.count("\n", 0, body.start()) + 1
        last = text.count("\n", 0, end) + 1
        found.append((m.group(1).split(".")[-1], first, last - first + 1))
    return found


def main(argv):
    limit = MAX_LINES
    args = list(argv)
    if args[:1] == ["--max"]:
        limit = int(args[1])
        args = args[2:]
    root = args[0] if args else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = []
    long_exempt = set()
    for path in tracked_files(root, CPP_DIRS, CPP_SUFFIXES) + tracked_files(root, SQL_DIRS, (".sql",)):
        text = open(os.path.join(root, path), encoding="utf-8", errors="replace").read()
        functions = sql_functions(text) if path.endswith(".sql") else cpp_functions(text)
        for name, line, count in functions:
            if count <= limit:
                continue
            if (path, name) in EXEMPT:
                long_exempt.add((path, name))
                continue
            problems.append(f"{path}:{line}: {name}: {count} lines (at most {limit}; split it into "
                            "named steps, or exempt a data table in test/function_length.py)")
    for key in sorted(set(EXEMPT) - long_exempt):
        problems.append(f"{key[0]}: {key[1]}: exempt in test/function_length.py but not longer "
                        f"than {limit} lines (or gone): remove the exemption")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
