#!/usr/bin/env python3
"""Run one test suite of `make test`, show its output, and record its counts.

    scripts/suite.py NAME -- COMMAND...        run a suite
    scripts/suite.py --summary                 print the one-line summary, exit 1 on a failure

Each run appends a line to build/test-summary.tsv: the suite, its exit status,
and the checks it reported as passed, failed and skipped. The counts are read
from what the suite prints, in the formats the project's runners use:
  - `go test -json` lines (printed back the way `go test` would, plus the
    output of each failed test and each skip reason);
  - unittest: `Ran N tests` and `OK (skipped=S)` / `FAILED (failures=F, errors=E, skipped=S)`;
  - check lines of the shell runners: `ok  ...`, `PASS: ...`, `FAIL ...`, `SKIP ...`.
A suite whose command failed counts as failed even if it printed no failure.
"""
import json
import os
import re
import subprocess
import sys
import time

SUMMARY = os.path.join(os.environ.get('BUILD', 'build'), 'test-summary.tsv')

RAN = re.compile(r'^Ran (\d+) tests? in ')
RESULT = re.compile(r'^(OK|FAILED)\b(?: \((.*)\))?')
CHECK_PASS = re.compile(r'^(ok|PASS:?)\s')
# A space, not a tab: go test's own "FAIL\tpkg" lines are not checks (a
# retried fuzz run prints them; the suite's exit status says if it failed).
CHECK_FAIL = re.compile(r'^FAIL:? ')
CHECK_SKIP = re.compile(r'^SKIP:?\s')
# unittest's header above a failure's traceback: the result line counts it.
UNITTEST_DETAIL = re.compile(r'^(FAIL|ERROR): \S+ \(.*\)$')


class Counts(object):
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def text_line(self, line):
        m = RAN.match(line)
        if m:
            self.passed += int(m.group(1))  # corrected by the result line below
            return
        m = RESULT.match(line)
        if m:
            for part in (m.group(2) or '').split(','):
                key, _, value = part.strip().partition('=')
                if value.isdigit() and key in ('failures', 'errors', 'unexpected successes'):
                    self.failed += int(value)
                    self.passed -= int(value)
                elif value.isdigit() and key == 'skipped':
                    self.skipped += int(value)
                    self.passed -= int(value)
            return
        if CHECK_PASS.match(line):
            self.passed += 1
        elif CHECK_FAIL.match(line) and not UNITTEST_DETAIL.match(line):
            self.failed += 1
        elif CHECK_SKIP.match(line):
            self.skipped += 1


class GoJSON(object):
    """Turns `go test -json` back into go test's terse output, counting tests."""

    def __init__(self, counts):
        self.counts = counts
        self.output = {}  # (package, test) -> lines, kept until the test ends

    def line(self, raw):
        try:
            event = json.loads(raw)
        except ValueError:
            event = None
        if not isinstance(event, dict) or 'Action' not in event:
            sys.stdout.write(raw)  # build errors and the like are not JSON
            return
        action, package, test = event.get('Action'), event.get('Package', ''), event.get('Test')
        key = (package, test)
        if action == 'build-output':
            sys.stdout.write(event.get('Output', ''))
            return
        if action == 'output':
            text = event.get('Output', '')
            if test is None:
                # Package-level lines: "ok  pkg 1.2s", "FAIL pkg", "--- FAIL" of a panic...
                if not text.startswith(('=== ', '--- PASS', 'PASS\n', 'testing: warning')):
                    sys.stdout.write(text)
            else:
                self.output.setdefault(key, []).append(text)
            return
        if test is None or action not in ('pass', 'fail', 'skip'):
            return
        lines = self.output.pop(key, [])
        if action == 'pass':
            self.counts.passed += 1
        elif action == 'fail':
            self.counts.failed += 1
            sys.stdout.write(''.join(lines))
        else:
            self.counts.skipped += 1
            sys.stdout.write(''.join(l for l in lines if not l.startswith('=== ')))


def run(name, command):
    counts = Counts()
    go = GoJSON(counts)
    started = time.time()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for raw in iter(process.stdout.readline, b''):
        line = raw.decode('utf-8', 'replace')
        if line.startswith('{"'):
            go.line(line)  # `go test -json` somewhere in the suite
        else:
            sys.stdout.write(line)
            counts.text_line(line)
        sys.stdout.flush()
    status = process.wait()
    if status != 0 and counts.failed == 0:
        counts.failed = 1
    seconds = time.time() - started
    os.makedirs(os.path.dirname(SUMMARY) or '.', exist_ok=True)
    with open(SUMMARY, 'a') as f:
        f.write('%s\t%d\t%d\t%d\t%d\t%.0f\n' % (name, status, counts.passed, counts.failed,
                                               counts.skipped, seconds))
    print('suite %s: %s, %d passed, %d failed, %d skipped, %.0f s' % (
        name, 'ok' if status == 0 else 'FAILED (exit %d)' % status,
        counts.passed, counts.failed, counts.skipped, seconds))
    return status


def summary():
    try:
        with open(SUMMARY) as f:
            rows = [line.rstrip('\n').split('\t') for line in f if line.strip()]
    except IOError:
        print('make test: no suite ran')
        return 1
    failed = [r[0] for r in rows if r[1] != '0']
    total = [sum(int(r[i]) for r in rows) for i in (2, 3, 4)]
    parts = ['%s %s/%s/%s' % (r[0], r[2], r[3], r[4]) for r in rows]
    verdict = 'all %d suites passed' % len(rows) if not failed else \
        '%d of %d suites FAILED (%s)' % (len(failed), len(rows), ', '.join(failed))
    print('make test: %s; %d passed, %d failed, %d skipped (passed/failed/skipped: %s)' % (
        verdict, total[0], total[1], total[2], ', '.join(parts)))
    return 1 if failed else 0


def main(argv):
    if argv[1:] == ['--summary']:
        return summary()
    if len(argv) < 4 or argv[2] != '--':
        sys.stderr.write(__doc__)
        return 2
    return run(argv[1], argv[3:])


if __name__ == '__main__':
    sys.exit(main(sys.argv))
