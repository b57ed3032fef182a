#!/usr/bin/env python3
"""Builds the taskflow_router install script (docs/scale-out.md, "The router's files").

    scripts/router_script.py TEMPLATE TABLE SQL_SRC_FILE... > router/taskflow_router--V.sql

TEMPLATE (router/src/taskflow_router.sql) is the hand-written part: configuration, routing,
roles, the wrappers that really differ. Its lines

    -- @proxied SECTION    become the functions of TABLE's [SECTION]
    -- @grants             become the GRANT EXECUTE of every function TABLE lists

TABLE (router/src/proxied.txt) lists, one a line, the client API functions the router only
forwards to a shard, and how:

    proxy FUNCTION ROUTE GRANTEES
        CREATE FUNCTION taskflow.FUNCTION(<the shard's arguments>) RETURNS <the shard's type>
        LANGUAGE plproxy: CLUSTER 'taskflow'; RUN ON ROUTE;
    all FUNCTION GRANTEES
        taskflow_router._F_all (the shard's arguments, without defaults) RETURNS SETOF integer:
        taskflow.F on every shard (RUN ON ALL), one row each; for the router's own wrappers
    merge FUNCTION GRANTEES returns=TYPE order=COL[,COL] [max_rows=N]
        a list over shards: taskflow_router._F_tenant (RUN ON the tenant's shard) and
        taskflow_router._F_all (RUN ON ALL), both calling the shard's taskflow.F, and
        taskflow.F (plpgsql): the given or the caller's tenant on its shard, else every shard's
        rows merged ORDER BY COL (and cut at max_rows, which must be in 1..N).

GRANTEES: roles without their taskflow_ prefix, comma separated (client,worker,admin); `-`:
none (only superusers call it).

The arguments and return types are read from sql/src (the shards' own definitions: PL/Proxy
passes arguments by position, so the router's signature is the shard's). A listed function
that sql/src does not define (or defines twice with different arguments) fails the build.
"""
import re
import sys

# the one SQL statement splitter of the build (quotes, dollar quotes, comments)
from upgrade_script import _skip_string, scan

KEYWORDS_AFTER_RETURNS = {
    "LANGUAGE", "AS", "SET", "SECURITY", "STABLE", "VOLATILE", "IMMUTABLE", "STRICT", "CALLED",
    "PARALLEL", "COST", "ROWS", "WINDOW", "LEAKPROOF", "NOT", "TRANSFORM", "SUPPORT", "EXTERNAL",
    "BEGIN", "RETURN",
}
ARG_MODES = {"IN", "OUT", "INOUT", "VARIADIC"}


class Error(Exception):
    pass


def balanced(text, i):
    """text[i] is '(': the index just after its matching ')'."""
    depth = 0
    for j, c in _chars(text, i):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth == 0:
            return j + 1
    raise Error("unbalanced parentheses")


def split_top(text):
    """text split at the commas outside parentheses, brackets and quotes; white space folded."""
    parts, depth, start = [], 0, 0
    for j, c in _chars(text, 0):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(c, 0)
        if c == "," and depth == 0:
            parts.append(text[start:j])
            start = j + 1
    parts.append(text[start:])
    return [" ".join(p.split()) for p in parts if p.strip()]


def _chars(text, i):
    """(index, character) of text from i on, a quoted string or identifier as one character."""
    while i < len(text):
        c = text[i]
        if c in "'\"":
            j = _skip_string(text, i, c)
            yield i, "'"
            i = j
        else:
            yield i, c
            i += 1


class Arg:
    def __init__(self, text):
        m = re.match(r"(?is)^(.*?)(?:\s+DEFAULT\s+|\s*=\s*)(.*)$", text)
        decl, self.default = (m.group(1), m.group(2)) if m else (text, None)
        words = decl.split()
        self.mode = words.pop(0).upper() if words and words[0].upper() in ARG_MODES else "IN"
        if len(words) < 2:
            raise Error(f"argument without a name: {text!r}")
        self.name, self.type = words[0], " ".join(words[1:])
        self.text = text

    def without_default(self):
        return (f"{self.mode} " if self.mode != "IN" else "") + f"{self.name} {self.type}"


class Function:
    def __init__(self, name, args_text, returns, where):
        self.name = name
        self.args_text = args_text
        self.returns = returns
        self.where = where

    @property
    def args(self):
        try:
            return [Arg(a) for a in split_top(self.args_text)]
        except Error as e:
            raise Error(f"{self.where}: taskflow.{self.name}: {e}")

    def identity(self):
        """The argument types GRANT and COMMENT name the function by."""
        return ", ".join(a.type for a in self.args if a.mode != "OUT")


def shard_functions(paths):
    """Every CREATE FUNCTION taskflow.X of the given files: {X: [Function, ...]}."""
    found = {}
    head = re.compile(r"(?is)^\s*CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+"
                      r"taskflow\.([a-z_0-9]+)\s*\(")
    for path in paths:
        with open(path, encoding="utf-8") as f:
            try:
                statements = [scan(s, keep_comments=False) for s in scan(f.read())]
            except ValueError as e:
                raise Error(f"{path}: {e}")
        for stmt in statements:
            m = head.match(stmt)
            if not m:
                continue
            name = m.group(1)
            close = balanced(stmt, m.end() - 1)
            args = stmt[m.end():close - 1]
            rest = stmt[close:]
            r = re.match(r"(?is)\s*RETURNS\s+", rest)
            rest = rest[r.end():] if r else ""
            t = re.match(r"(?is)TABLE\s*\(", rest)
            if not r:
                returns = ""  # OUT arguments say it
            elif t:
                returns = "TABLE(" + rest[t.end():balanced(rest, t.end() - 1) - 1] + ")"
            else:
                words = []
                for w in rest.split():
                    if w.upper() in KEYWORDS_AFTER_RETURNS:
                        break
                    words.append(w)
                returns = " ".join(words)
            found.setdefault(name, []).append(
                Function(name, " ".join(args.split()), " ".join(returns.split()), path))
    return found


def shard_function(shard, name, where):
    """The one definition of taskflow.NAME in sql/src (a CREATE OR REPLACE of the same
    arguments replaces it), or an Error that says why there is none."""
    fns = shard.get(name)
    if not fns:
        raise Error(f"{where}: taskflow.{name} is not defined in sql/src (a CREATE FUNCTION "
                    f"taskflow.{name}(...) is needed: the router copies its arguments)")
    if len({tuple(a.type for a in f.args) for f in fns}) > 1:
        raise Error(f"{where}: taskflow.{name} is defined in sql/src with different arguments "
                    f"({', '.join(f.where for f in fns)}): the router cannot tell which one it "
                    "forwards to")
    return fns[-1]


def wrap(prefix, items, suffix, indent="    ", width=100):
    """prefix + items joined by ', ' + suffix, broken before an item that would pass width."""
    if not items:
        return prefix + suffix
    lines, cur = [], prefix
    for k, item in enumerate(items):
        piece = item + (", " if k < len(items) - 1 else suffix)
        if len(cur) + len(piece.rstrip()) > width and (cur != prefix or prefix.endswith(" ")):
            lines.append(cur.rstrip())
            cur = indent
        cur += piece
    lines.append(cur.rstrip())
    return "\n".join(lines)


def proxy(fn, route):
    head = wrap(f"CREATE FUNCTION taskflow.{fn.name}(", [a.text for a in fn.args], ")")
    if fn.returns:
        last = head.rsplit("\n", 1)[-1]
        head += ("\n" if len(last) + len(fn.returns) + 9 > 100 else " ") + "RETURNS " + fn.returns
    return (head + "\n"
            "LANGUAGE plproxy AS $$\n"
            "  CLUSTER 'taskflow';\n"
            f"  RUN ON {route};\n"
            "$$;\n")


def remote(fn, suffix, route, select, returns, route_arg=False):
    """taskflow_router._F_SUFFIX: the shard's taskflow.F (its arguments, without defaults, after
    a `route text` one if route_arg) RUN ON route, as `SELECT select FROM taskflow.F(...)`:
    (name, argument types, sql)."""
    params = (["route text"] if route_arg else []) + [a.without_default() for a in fn.args]
    types = (["text"] if route_arg else []) + [a.type for a in fn.args if a.mode != "OUT"]
    name = f"taskflow_router._{fn.name}_{suffix}"
    return (name, types,
            wrap(f"CREATE FUNCTION {name}(", params, ")") + "\n"
            f"RETURNS SETOF {returns}\n"
            "LANGUAGE plproxy AS $$\n"
            "  CLUSTER 'taskflow';\n"
            f"  RUN ON {route};\n" +
            wrap(f"  SELECT {select} FROM taskflow.{fn.name}(", [a.name for a in fn.args], ");") +
            "\n$$;\n")


def merge(fn, rowtype, order, max_rows):
    """The three functions of a list merged across shards: [(name, types, sql)]."""
    f = fn.name
    names = [a.name for a in fn.args]
    types = [a.type for a in fn.args if a.mode != "OUT"]
    out = [remote(fn, "tenant", "taskflow_router.tenant_partition(route)", "*", rowtype, True),
           remote(fn, "all", "ALL", "*", rowtype)]
    qualified = [f"{f}.{n}" for n in names]
    check = ""
    if max_rows:
        if not max_rows.isdigit():
            raise Error(f"taskflow.{f}: max_rows={max_rows} is not a number")
        if "max_rows" not in names:
            raise Error(f"taskflow.{f}: max_rows= given but the function has no max_rows argument")
        check = (f"  IF max_rows IS NULL OR max_rows < 1 OR max_rows > {max_rows} THEN\n"
                 "    RAISE EXCEPTION USING ERRCODE = '22023',"
                 f" MESSAGE = 'max_rows must be between 1 and {max_rows}';\n"
                 "  END IF;\n")
    tenant_arg = next((a for a in fn.args if a.name == "tenant_id"), None)
    if tenant_arg is None:
        raise Error(f"taskflow.{f}: a merged list needs a tenant_id argument")
    keys = ", ".join(f"m.{c}" for c in order.split(","))
    limit = f" LIMIT {f}.max_rows" if max_rows else ""
    out.append((f"taskflow.{f}", types,
                wrap(f"CREATE FUNCTION taskflow.{f}(", [a.text for a in fn.args], ")") + "\n"
                f"RETURNS SETOF {rowtype}\n"
                "LANGUAGE plpgsql VOLATILE\n"
                "AS $$\n"
                "DECLARE\n"
                f"  route text := COALESCE({f}.tenant_id, taskflow_router.caller_tenant());\n"
                "BEGIN\n" + check +
                "  IF route IS NOT NULL THEN\n" +
                wrap(f"    RETURN QUERY SELECT * FROM taskflow_router._{f}_tenant(",
                     ["route"] + qualified, ");", indent="      ") + "\n"
                "    RETURN;\n"
                "  END IF;\n" +
                wrap(f"  RETURN QUERY SELECT * FROM taskflow_router._{f}_all(", qualified, ") m",
                     indent="      ") + "\n"
                f"    ORDER BY {keys}{limit};\n"
                "END\n"
                "$$;\n"))
    return out


def roles(grantees):
    return ", ".join(f"taskflow_{g}" for g in grantees.split(","))



def read_table(path, shard):
    """{section: [sql]}, and the grants [(signature, grantees)] in table order."""
    sections, grants, section = {}, [], None
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            where = f"{path}:{lineno}"
            m = re.fullmatch(r"\[([a-z_]+)\]", line)
            if m:
                section = m.group(1)
                if section in sections:
                    raise Error(f"{where}: section [{section}] twice")
                sections[section] = []
                continue
            if section is None:
                raise Error(f"{where}: a function before the first [section]")
            words = line.split()
            opts = dict(w.split("=", 1) for w in words[3:] if "=" in w)
            if words[0] == "proxy" and len(words) == 4:
                fn = shard_function(shard, words[1], where)
                sections[section].append(proxy(fn, words[2]))
                grants.append((f"taskflow.{fn.name}({fn.identity()})", words[3]))
            elif words[0] == "all" and len(words) == 3:
                fn = shard_function(shard, words[1], where)
                name, types, sql = remote(fn, "all", "ALL", "1", "integer")
                sections[section].append(sql)
                if words[2] != "-":
                    grants.append((f"{name}({', '.join(types)})", words[2]))
            elif (words[0] == "merge" and len(words) >= 5 and len(opts) == len(words) - 3
                  and {"returns", "order"} <= set(opts) <= {"returns", "order", "max_rows"}):
                fn = shard_function(shard, words[1], where)
                try:
                    rendered = merge(fn, opts["returns"], opts["order"], opts.get("max_rows"))
                except Error as e:
                    raise Error(f"{where}: {e}")
                for sig, types, sql in rendered:
                    sections[section].append(sql)
                    grants.append((f"{sig}({', '.join(types)})", words[2]))
            else:
                raise Error(f"{where}: expected 'proxy FUNCTION ROUTE GRANTEES', 'all FUNCTION "
                            "GRANTEES' or 'merge FUNCTION GRANTEES returns=TYPE order=COLUMNS "
                            "[max_rows=N]'")
    return sections, grants


def render(template_path, sections, grants):
    out, used = [], set()
    with open(template_path, encoding="utf-8") as f:
        for line in f:
            m = re.fullmatch(r"-- @proxied ([a-z_]+)\s*", line)
            if m:
                if m.group(1) not in sections:
                    raise Error(f"{template_path}: no section [{m.group(1)}] in the table")
                used.add(m.group(1))
                out.append("\n".join(sections[m.group(1)]))
            elif re.fullmatch(r"-- @grants\s*", line):
                used.add("@grants")
                by_roles = {}
                for sig, g in grants:
                    by_roles.setdefault(g, []).append(sig)
                for g, sigs in by_roles.items():
                    out.append(wrap("GRANT EXECUTE ON FUNCTION ", sigs, "", indent="  ") + "\n"
                               f"  TO {roles(g)};\n")
            else:
                out.append(line)
    missing = [s for s in sections if s not in used] + ([] if "@grants" in used else ["@grants"])
    if missing:
        raise Error(f"{template_path}: no line '-- @proxied {missing[0]}' (or '-- @grants')")
    return "".join(out)


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    template, table, sources = argv[1], argv[2], argv[3:]
    try:
        sections, grants = read_table(table, shard_functions(sources))
        text = render(template, sections, grants)
    except Error as e:
        sys.stderr.write(f"router_script.py: {e}\n")
        return 1
    sys.stdout.write("-- Generated by scripts/router_script.py from router/src/taskflow_router.sql,"
                     "\n-- router/src/proxied.txt and sql/src: edit those, not this file.\n"
                     + text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
