#!/usr/bin/env python3
"""Validates a META.json against the PGXN Meta Spec v1 (https://pgxn.org/meta/spec.txt).

    scripts/meta_json.py META.json                 the spec: required keys, types, values
    scripts/meta_json.py --project . META.json     and this repository: the version is
                                                   taskflow.control's default_version, files exist

Python standard library only (PyPI is not reachable from every build machine, and the checks
are few). Prints one line per problem and exits 1 when there is any; exits 0 silently otherwise.
"""
import json
import os
import re
import sys

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$")
# A "term" (name, extension name): at least two characters, no slash, backslash, control
# character or whitespace.
TERM = re.compile(r"^[^\s/\\\x00-\x1f\x7f]{2,}$")
# A version range in prereqs: "0", "1.2.0", ">= 1.2.0", ">= 1.2.0, < 2.0.0", "== 1.0.0", ...
RANGE_PART = re.compile(r"^(?:(?:==|!=|>=|<=|>|<)\s*)?(0|(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)\S*)$")
LICENSES = {
    "agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd",
    "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit",
    "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5", "postgresql", "qpl_1_0", "ssleay",
    "sun", "zlib", "open_source", "restricted", "unrestricted", "unknown",
}
TOP_REQUIRED = ["name", "version", "abstract", "maintainer", "license", "provides", "meta-spec"]
TOP_OPTIONAL = ["description", "prereqs", "no_index", "release_status", "resources",
                "generated_by", "tags"]
PHASES = {"configure", "build", "runtime", "test", "develop"}
RELATIONS = {"requires", "recommends", "suggests", "conflicts"}
RELEASE_STATUS = {"stable", "testing", "unstable"}


def custom(key):
    return key.startswith(("x_", "X_"))


class Checker:
    def __init__(self):
        self.problems = []

    def bad(self, where, what):
        self.problems.append(f"{where}: {what}")

    def string(self, where, v, nonempty=True):
        if not isinstance(v, str):
            self.bad(where, f"must be a string, got {type(v).__name__}")
            return False
        if nonempty and not v.strip():
            self.bad(where, "must not be empty")
            return False
        return True

    def semver(self, where, v):
        if self.string(where, v) and not SEMVER.match(v):
            self.bad(where, f"{v!r} is not a semantic version (X.Y.Z)")

    def term(self, where, v):
        if self.string(where, v) and not TERM.match(v):
            self.bad(where, f"{v!r} is not a term (2+ characters, no /, \\, space or control)")

    def keys(self, where, obj, allowed):
        for k in obj:
            if k not in allowed and not custom(k):
                self.bad(f"{where}.{k}", "unknown key (custom keys start with x_)")

    def obj(self, where, v):
        if not isinstance(v, dict):
            self.bad(where, f"must be an object, got {type(v).__name__}")
            return False
        return True

    def meta(self, m):
        if not self.obj("META.json", m):
            return
        for k in TOP_REQUIRED:
            if k not in m:
                self.bad(k, "required key is missing")
        self.keys("META.json", m, TOP_REQUIRED + TOP_OPTIONAL)
        if "name" in m:
            self.term("name", m["name"])
        if "version" in m:
            self.semver("version", m["version"])
        if "abstract" in m:
            self.string("abstract", m["abstract"])
        if "description" in m:
            self.string("description", m["description"])
        if "generated_by" in m:
            self.string("generated_by", m["generated_by"])
        if "maintainer" in m:
            v = m["maintainer"]
            if isinstance(v, list):
                if not v:
                    self.bad("maintainer", "must not be an empty list")
                for i, x in enumerate(v):
                    self.string(f"maintainer[{i}]", x)
            else:
                self.string("maintainer", v)
        if "license" in m:
            self.license(m["license"])
        if "provides" in m:
            self.provides(m["provides"])
        if "meta-spec" in m:
            ms = m["meta-spec"]
            if self.obj("meta-spec", ms):
                if "version" not in ms:
                    self.bad("meta-spec.version", "required key is missing")
                elif self.string("meta-spec.version", ms["version"]):
                    if not SEMVER.match(ms["version"]) or not ms["version"].startswith("1."):
                        self.bad("meta-spec.version", f"{ms['version']!r} is not a 1.x.y version of the spec")
                if "url" in ms:
                    self.string("meta-spec.url", ms["url"])
                self.keys("meta-spec", ms, ["version", "url"])
        if "release_status" in m and m["release_status"] not in RELEASE_STATUS:
            self.bad("release_status", f"{m['release_status']!r} is not one of {sorted(RELEASE_STATUS)}")
        if "tags" in m:
            if not isinstance(m["tags"], list) or not m["tags"]:
                self.bad("tags", "must be a non-empty list of strings")
            else:
                for i, t in enumerate(m["tags"]):
                    if self.string(f"tags[{i}]", t) and len(t) > 255:
                        self.bad(f"tags[{i}]", "longer than 255 characters")
        if "prereqs" in m:
            self.prereqs(m["prereqs"])
        if "resources" in m:
            self.resources(m["resources"])
        if "no_index" in m and self.obj("no_index", m["no_index"]):
            self.keys("no_index", m["no_index"], ["file", "directory"])
            for k, v in m["no_index"].items():
                if not custom(k) and not (isinstance(v, str) or
                                          (isinstance(v, list) and all(isinstance(x, str) for x in v))):
                    self.bad(f"no_index.{k}", "must be a string or a list of strings")

    def license(self, v):
        if isinstance(v, str):
            if v not in LICENSES:
                self.bad("license", f"{v!r} is not a license name of the spec")
        elif isinstance(v, list):
            if not v:
                self.bad("license", "must not be an empty list")
            for i, x in enumerate(v):
                if x not in LICENSES:
                    self.bad(f"license[{i}]", f"{x!r} is not a license name of the spec")
        elif isinstance(v, dict):
            if not v:
                self.bad("license", "must not be an empty object")
            for k, url in v.items():
                self.string(f"license.{k}", url)
        else:
            self.bad("license", "must be a string, a list or an object of name => URL")

    def provides(self, v):
        if not self.obj("provides", v):
            return
        if not v:
            self.bad("provides", "must list at least one extension")
        for name, ext in v.items():
            where = f"provides.{name}"
            self.term(where, name)
            if not self.obj(where, ext):
                continue
            for k in ("file", "version"):
                if k not in ext:
                    self.bad(f"{where}.{k}", "required key is missing")
            if "file" in ext:
                self.string(f"{where}.file", ext["file"])
            if "version" in ext:
                self.semver(f"{where}.version", ext["version"])
            for k in ("abstract", "docfile"):
                if k in ext:
                    self.string(f"{where}.{k}", ext[k])
            self.keys(where, ext, ["file", "version", "abstract", "docfile"])

    def objects(self, where, v, known, what):
        """(where.key, value) of each entry of object v that is named in known (or custom) and
        is an object itself; reports an unknown key as an unknown `what`, a value that is no
        object as such."""
        for k, sub in v.items():
            w = f"{where}.{k}"
            if k not in known and not custom(k):
                self.bad(w, f"unknown {what} (one of {sorted(known)})")
            elif self.obj(w, sub):
                yield w, sub

    def prereqs(self, v):
        if not self.obj("prereqs", v):
            return
        for where, rels in self.objects("prereqs", v, PHASES, "phase"):
            for w, deps in self.objects(where, rels, RELATIONS, "relationship"):
                for dep, rng in deps.items():
                    self.range(f"{w}.{dep}", rng)

    def range(self, where, v):
        if v == 0:
            return
        if not isinstance(v, str):
            self.bad(where, "must be a version range string or 0")
            return
        for part in v.split(","):
            if not RANGE_PART.match(part.strip()):
                self.bad(where, f"{v!r} is not a version range (\"1.2.0\", \">= 1.2.0, < 2.0.0\", \"0\")")
                return

    def resources(self, v):
        if not self.obj("resources", v):
            return
        self.keys("resources", v, ["homepage", "bugtracker", "repository"])
        if "homepage" in v:
            self.string("resources.homepage", v["homepage"])
        if "bugtracker" in v and self.obj("resources.bugtracker", v["bugtracker"]):
            self.keys("resources.bugtracker", v["bugtracker"], ["web", "mailto"])
            if not any(k in v["bugtracker"] for k in ("web", "mailto")):
                self.bad("resources.bugtracker", "needs web or mailto")
        if "repository" in v and self.obj("resources.repository", v["repository"]):
            r = v["repository"]
            self.keys("resources.repository", r, ["url", "web", "type"])
            if not any(k in r for k in ("url", "web")):
                self.bad("resources.repository", "needs url or web")
            if "type" in r and "url" not in r:
                self.bad("resources.repository.type", "only meaningful with url")


def control_version(root):
    with open(os.path.join(root, "taskflow.control"), encoding="utf-8") as f:
        for line in f:
            mt = re.match(r"^default_version\s*=\s*'([^']*)'", line)
            if mt:
                return mt.group(1)
    return None


def project(c, m, root):
    """This repository's own rules: one version everywhere, files that exist."""
    want = control_version(root)
    if want is None:
        c.bad("taskflow.control", "no default_version")
        return
    if m.get("version") != want:
        c.bad("version", f"{m.get('version')!r} is not taskflow.control's default_version {want!r}")
    for name, ext in (m.get("provides") or {}).items():
        if not isinstance(ext, dict):
            continue
        if ext.get("version") != want:
            c.bad(f"provides.{name}.version", f"{ext.get('version')!r} is not {want!r}")
        for k in ("file", "docfile"):
            if isinstance(ext.get(k), str) and not os.path.isfile(os.path.join(root, ext[k])):
                c.bad(f"provides.{name}.{k}", f"{ext[k]!r} does not exist")
    if "taskflow" not in (m.get("provides") or {}):
        c.bad("provides", "does not list the taskflow extension")


def main(argv):
    root = None
    if len(argv) >= 2 and argv[0] == "--project":
        root, argv = argv[1], argv[2:]
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    c = Checker()
    try:
        with open(argv[0], encoding="utf-8") as f:
            m = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{argv[0]}: {e}")
        return 1
    c.meta(m)
    if root is not None and isinstance(m, dict):
        project(c, m, root)
    for p in c.problems:
        print(f"{argv[0]}: {p}")
    return 1 if c.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
