#!/usr/bin/env python3
"""Runs the examples of a Markdown document, in order, and compares the output it shows.

    test/doctest.py [--list] FILE.md

The examples are the fenced blocks tagged ```sql (run through psql, the PG* environment) and
```sh / ```bash (run through bash -e -o pipefail in a scratch directory, with the PG*
environment and build/ binaries on PATH; the checkout's files are linked into it, so paths
such as worker/examples/handlers.json work as from the top of a checkout). Consecutive SQL blocks share one psql session (\\gset
variables, SET ROLE, temporary tables carry over, as for a reader in one psql); a shell block
ends that session. Output is compared where the document shows it:

  - in an SQL block, a statement followed by comment lines in psql's aligned format
        SELECT taskflow.schedule('email.send');
        --  schedule
        -- ----------
        --         1
    (a header, a dashes line, the rows; no "(1 row)" footer): psql's output of the statements
    since the previous shown output must end with these lines; "-- ERROR:  ..." lines (with
    HINT/DETAIL) after a statement: it must fail with that report, and the session goes on;
  - an untagged block preceded by <!-- doctest: output -->: the whole output of the previous
    example (errors included, as psql prints them, without psql's "psql:file:line: " prefix)
    must end with it.
  In expected output, a line "..." stands for any number of lines, and "..." inside a line for
  any text. Runs of blanks compare as one (column alignment is not checked); dates with times
  (2026-12-03 19:20:01.120) and elapsed times (+6.75 s) match any other.

An SQL block without any ';' (or \\g, \\gset) is a synopsis (a function's signature), not an example: it does
not run.

Marks, an HTML comment on the line right before a block (blank lines between are allowed):
  <!-- doctest: skip REASON -->   the block does not run (REASON is required: say why)
  <!-- doctest: error -->         an SQL block that must fail (psql goes on after its error)
  <!-- doctest: output -->        the untagged block is the expected output (see above)

Shell blocks run one after the other in the same scratch directory; the variables a block sets
(NAME=..., read NAME) are there in the document's later shell blocks, and what a block starts
in the background (a server) runs until the document ends, as in a reader's terminal.

Exits 0 when every example ran and every shown output matched; prints TAP-style diagnostics
("# FILE:LINE ...") for the first failure of the document.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

FENCE = re.compile(r'^(\s*)```\s*([A-Za-z0-9_+-]*)\s*$')
MARK = re.compile(r'^\s*<!--\s*doctest:\s*(skip|error|output)\b\s*(.*?)\s*-->\s*$')
SEPARATOR = re.compile(r'^-+(\+-+)*$')
CHUNK = '@@doctest-chunk@@'


class Block:
    def __init__(self, line, lang, lines, mark, mark_arg):
        self.line, self.lang, self.lines, self.mark, self.mark_arg = line, lang, lines, mark, mark_arg

    @property
    def synopsis(self):
        # an SQL block without a statement (no ';' or \g, \gset outside comments): a function's signature
        return self.lang == 'sql' and not any(';' in l.split('--')[0] or re.search(r'\\g(set|x)?\b', l.split('--')[0])
                                              for l in self.lines)

    @property
    def runnable(self):
        return self.lang in ('sql', 'sh', 'bash') and self.mark != 'skip' and not self.synopsis


def parse(path):
    """The fenced blocks of a Markdown file, each with the mark right before it."""
    blocks, mark, mark_arg = [], None, ''
    lines = open(path, encoding='utf-8').read().split('\n')
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            mm = MARK.match(lines[i])
            if mm:
                mark, mark_arg = mm.group(1), mm.group(2)
            elif lines[i].strip():
                mark, mark_arg = None, ''
            i += 1
            continue
        indent, lang = m.group(1), m.group(2).lower()
        start = i + 1
        body = []
        i += 1
        while i < len(lines) and not re.match(r'^\s*```\s*$', lines[i]):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        if mark == 'skip' and not mark_arg:
            sys.exit(f'{path}:{start - 1}: <!-- doctest: skip --> needs a reason')
        blocks.append(Block(start, lang, body, mark, mark_arg))
        mark, mark_arg = None, ''
        i += 1
    return blocks


def sql_chunks(block):
    """Splits an SQL block at each output shown in comments:
    [(sql lines, expected or None, line, whether the statement must fail)]. An output is
    psql's table (a header, then a dashes line) or an error ("-- ERROR:  ...", then HINT,
    DETAIL lines)."""
    chunks, current, i, lines = [], [], 0, block.lines
    while i < len(lines):
        table = (lines[i].startswith('-- ') and i + 1 < len(lines) and lines[i + 1].startswith('-- ')
                 and SEPARATOR.match(lines[i + 1][3:].strip()))
        error = lines[i].startswith('-- ERROR:')
        if table or error:
            expected, j = [], i
            while j < len(lines) and (lines[j].startswith('-- ') or lines[j] == '--'):
                if error and not re.match(r'-- (ERROR|HINT|DETAIL|CONTEXT):', lines[j]):
                    break
                expected.append(lines[j][3:])
                j += 1
            chunks.append((current, expected, block.line + i, error))
            current, i = [], j
            continue
        current.append(lines[i])
        i += 1
    chunks.append((current, None, block.line + len(lines), False))
    return chunks


TIMESTAMP = re.compile(r'\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d(:\d\d)?|Z)?')

ELAPSED = re.compile(r'\+\d+(\.\d+)? ?(µs|us|ms|s|min|h)\b')


def normalize(text_lines):
    # a date and time differs from run to run: compared as the same
    # and column alignment is not compared: runs of blanks count as one
    # (and so do the elapsed times between them: "+6.75 s", "+142 ms")
    out = [re.sub(r'\s+', ' ', ELAPSED.sub('+<elapsed>', TIMESTAMP.sub('<time>', l))).strip()
           for l in text_lines]
    while out and not out[-1]:
        out.pop()
    while out and not out[0]:
        out.pop(0)
    return out


def line_matches(want, got):
    if '...' not in want:
        return want == got
    return re.fullmatch('.*'.join(re.escape(p) for p in want.split('...')), got) is not None


def ends_with(got, want):
    """Whether the lines `got` end with the pattern `want` ("..." lines: any number of lines)."""
    got, want = normalize(got), normalize(want)

    def match(gi, wi):  # want[wi:] matches got[gi:] exactly to the end
        if wi == len(want):
            return gi == len(got)
        if want[wi].strip() == '...':
            return any(match(k, wi + 1) for k in range(gi, len(got) + 1))
        return gi < len(got) and line_matches(want[wi], got[gi]) and match(gi + 1, wi + 1)

    return any(match(start, 0) for start in range(len(got) + 1))


class Failure(Exception):
    pass


def show(lines):
    return '\n'.join('#     ' + l for l in lines)


def run_sql(path, blocks, workdir):
    """Runs consecutive SQL blocks in one psql session; checks each shown output."""
    script, checks = [], []
    for block in blocks:
        if block.mark == 'error':
            script.append('\\set ON_ERROR_STOP 0')
        for sql, expected, line, error in sql_chunks(block):
            script.append(f'\\echo {CHUNK}')
            if error and block.mark != 'error':
                script.append('\\set ON_ERROR_STOP 0')
            script.extend(sql)
            if error and block.mark != 'error':
                script.append('\\set ON_ERROR_STOP 1')
            checks.append((block, expected, line))
        if block.mark == 'error':
            script.append(f'\\echo {CHUNK}')
            script.append('\\echo @@doctest-error :ERROR@@')
            script.append('\\set ON_ERROR_STOP 1')
            checks.append((block, 'error-check', block.line))
    script.append(f'\\echo {CHUNK}')
    f = os.path.join(workdir, 'doc.sql')
    with open(f, 'w') as fh:
        fh.write('\n'.join(script) + '\n')
    res = subprocess.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=default',
                          '-P', 'footer=off', '-f', f], cwd=workdir,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = re.sub(r'(?m)^psql:[^\n]*?:\d+: ', '', res.stdout)
    parts = out.split(CHUNK + '\n')[1:]
    for k, (block, expected, line) in enumerate(checks):
        got = parts[k].split('\n') if k < len(parts) else []
        if expected == 'error-check':
            if '@@doctest-error true@@' not in parts[k]:
                raise Failure(f'{path}:{block.line}: the block marked error did not fail')
            continue
        if k >= len(parts) - 1 and res.returncode != 0:
            raise Failure(f'{path}:{block.line}: the SQL block failed:\n' + show(got[-15:]))
        if expected is not None and not ends_with(got, expected):
            raise Failure(f'{path}:{line}: the output differs\n#   got:\n' + show(normalize(got))
                          + '\n#   want (the end of it):\n' + show(normalize(expected)))
    if res.returncode != 0:
        raise Failure(f'{path}:{blocks[-1].line}: psql exited {res.returncode}:\n' + show(out.split('\n')[-15:]))
    return [l for l in out.split('\n') if l != CHUNK and not l.startswith('@@doctest-error ')]


def sh_chunks(block):
    """Splits a shell block after each output it shows: full-line "# " comments right after a
    command are that command's expected output. [(lines, expected or None, line)]"""
    chunks, current, i, lines = [], [], 0, block.lines
    while i < len(lines):
        if (lines[i].startswith('#') and current and current[-1].strip()
                and not current[-1].lstrip().startswith('#')):
            expected, j = [], i
            while j < len(lines) and (lines[j].startswith('# ') or lines[j] == '#'):
                expected.append(lines[j][2:])
                j += 1
            if expected:
                chunks.append((current, expected, block.line + i))
                current, i = [], j
                continue
        current.append(lines[i])
        i += 1
    chunks.append((current, None, block.line + len(lines)))
    return chunks


def stop_group(proc):
    """Stops what the block left running (its process group): TERM, then KILL after 5 s."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        for _ in range(50):
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


ASSIGNED = re.compile(r'^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=|^\s*read\s+(?:-r\s+)?([A-Za-z_ ][A-Za-z0-9_ ]*)')


def run_sh(path, block, workdir, env, background):
    """Runs a shell block. The variables it sets carry over to the document's later shell
    blocks (as in a reader's terminal); what it starts in the background runs until the
    document ends (`background` collects them)."""
    chunks = sh_chunks(block)
    state = os.path.join(workdir, 'state.sh')
    names = set()
    for l in block.lines:
        m = ASSIGNED.match(l)
        if m:
            names.update((m.group(1) or m.group(2)).split())
    script = [f'[ -f {state} ] && . {state}']
    for lines, _, _ in chunks:
        script.extend(lines)
        script.append(f'echo {CHUNK}')
    if names:
        script.append(f'declare -p {" ".join(sorted(names))} >>{state} 2>/dev/null || true')
    log = os.path.join(workdir, f'sh.{block.line}.out')
    with open(log, 'w') as fh:
        proc = subprocess.Popen(['bash', '-e', '-o', 'pipefail', '-c', '\n'.join(script)],
                                cwd=workdir, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
        background.append(proc)
        rc = proc.wait(timeout=120)
    out = open(log).read()
    parts = out.split(CHUNK + '\n')
    if rc != 0:
        raise Failure(f'{path}:{block.line}: the shell block exited {rc}:\n' + show(out.split('\n')[-15:]))
    for k, (_, expected, line) in enumerate(chunks):
        got = parts[k].split('\n') if k < len(parts) else []
        if expected is not None and not ends_with(got, expected):
            raise Failure(f'{path}:{line}: the output differs\n#   got:\n' + show(normalize(got))
                          + '\n#   want (the end of it):\n' + show(normalize(expected)))
    return [l for l in out.split('\n') if l != CHUNK]


def main(argv):
    listing = '--list' in argv
    args = [a for a in argv if a != '--list']
    if len(args) != 1:
        sys.exit(__doc__)
    path = args[0]
    blocks = parse(path)
    if listing:
        for b in blocks:
            state = 'skip: ' + b.mark_arg if b.mark == 'skip' else ('synopsis' if b.synopsis else (b.mark or ''))
            print(f'{path}:{b.line} {b.lang or "-"} {state}')
        return 0
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env['PATH'] = ':'.join([os.path.join(root, 'build', 'cli'), os.path.join(root, 'build', 'worker'),
                            os.path.join(root, 'build', 'worker', 'http'), env.get('PATH', '')])
    ran = 0
    background = []
    with tempfile.TemporaryDirectory(prefix='tfdoc.') as workdir:
        os.chmod(workdir, 0o755)  # a server started in it runs as another OS user
        # the scratch directory shows the checkout's files (symlinks), so a command written
        # "from the top of the checkout" (worker/examples/...) runs as it does for a reader
        for name in os.listdir(root):
            if not name.startswith('.'):
                os.symlink(os.path.join(root, name), os.path.join(workdir, name))
        i, last_output = 0, []
        try:
            while i < len(blocks):
                b = blocks[i]
                if b.lang == 'sql' and b.runnable:
                    run = [b]
                    # the SQL blocks up to the next shell block or shown output share a session
                    while (i + 1 < len(blocks) and (not blocks[i + 1].runnable or blocks[i + 1].lang == 'sql')
                           and blocks[i + 1].mark != 'output'):
                        i += 1
                        if blocks[i].runnable:
                            run.append(blocks[i])
                    last_output = run_sql(path, run, workdir)
                    ran += len(run)
                elif b.lang in ('sh', 'bash') and b.runnable:
                    last_output = run_sh(path, b, workdir, env, background)
                    ran += 1
                elif b.mark == 'output':
                    if not ends_with(last_output, b.lines):
                        raise Failure(f'{path}:{b.line}: the output differs\n#   got:\n'
                                      + show(normalize(last_output)) + '\n#   want (the end of it):\n'
                                      + show(normalize(b.lines)))
                i += 1
        except Failure as e:
            print(f'# {e}')
            return 1
        except subprocess.TimeoutExpired as e:
            print(f'# {path}: a shell block timed out: {e}')
            return 1
        finally:
            for proc in background:
                stop_group(proc)
            # a server the document started in its scratch directory (test/pgcluster.sh start
            # DIR) is stopped even when the document failed before its own stop
            for entry in os.listdir(workdir):
                if os.path.exists(os.path.join(workdir, entry, 'data', 'postmaster.pid')):
                    subprocess.run(['bash', os.path.join(root, 'test', 'pgcluster.sh'), 'stop',
                                    os.path.join(workdir, entry)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    print(f'# {path}: {ran} examples ran')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
