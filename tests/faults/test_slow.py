"""Slow clients with Debian's slowhttptest against `portico serve`: slowloris
(heads that never end) and slow bodies (bodies trickled a few bytes at a
time). The server must drop the slow connections at its timeouts while a
well-behaved client keeps getting answers."""

import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'python'))

from support import library_available  # noqa: E402
from test_faults import FaultServer  # noqa: E402

SLOWHTTPTEST = shutil.which('slowhttptest')


class Bystander(threading.Thread):
    """GET /ok on a new connection every 50 ms; records failures and the
    slowest answer."""

    def __init__(self, server):
        threading.Thread.__init__(self, daemon=True)
        self.server, self.stop, self.ok, self.failures, self.slowest = \
            server, threading.Event(), 0, [], 0.0

    def run(self):
        while not self.stop.is_set():
            started = time.time()
            try:
                response = self.server.get('/ok')
                if response.status != 200:
                    raise AssertionError('status %d' % response.status)
                self.ok += 1
            except Exception as exc:
                self.failures.append(repr(exc))
            self.slowest = max(self.slowest, time.time() - started)
            time.sleep(0.05)


def run_slowhttptest(args, workdir):
    """Run slowhttptest; return its CSV rows as dicts of ints (per second:
    closed, pending, connected, service available)."""
    prefix = os.path.join(workdir, 'report')
    done = subprocess.run([SLOWHTTPTEST] + args + ['-g', '-o', prefix], cwd=workdir,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    output = re.sub(r'\x1b\[[0-9;]*m', '', done.stdout.decode('utf-8', 'replace'))
    status = re.search(r'Exit status: (.*)', output)
    with open(prefix + '.csv') as f:
        rows = list(csv.reader(f))
    header = [h.strip().lower() for h in rows[0]]
    return [dict(zip(header, map(int, row))) for row in rows[1:] if row], \
        status.group(1).strip() if status else output[-500:]


@unittest.skipUnless(library_available(), 'libportico.so not built')
@unittest.skipUnless(SLOWHTTPTEST, 'slowhttptest missing (scripts/deps.sh test)')
class SlowClients(unittest.TestCase):

    def attack(self, server_args, attack_args, connections):
        server = FaultServer(*server_args)
        self.addCleanup(server.process.stop)
        workdir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, workdir)
        bystander = Bystander(server)
        bystander.start()
        started = time.time()
        path = attack_args[-1]
        rows, status = run_slowhttptest(attack_args[:-1] + [
            '-c', str(connections), '-u', 'http://127.0.0.1:%d%s' % (server.port, path)], workdir)
        elapsed = time.time() - started
        bystander.stop.set()
        bystander.join()
        sys.stderr.write('\n  %s: %s after %.1f s; peak %d connected; bystander %d answers, '
                         'slowest %.2f s\n' % (self.id().rsplit('.', 1)[-1], status, elapsed,
                                               max(row['connected'] for row in rows),
                                               bystander.ok, bystander.slowest))
        return status, rows, elapsed, bystander

    def check(self, status, rows, elapsed, bystander, limit, slowest, min_peak=50,
              allowed=()):
        # slowhttptest stops early once we closed every connection it opened
        # (its test length is 20 s); the CSV stops a second before that.
        self.assertEqual(status, 'No open connections left', rows)
        self.assertLess(elapsed, limit, rows)
        self.assertGreaterEqual(max(row['connected'] for row in rows), min_peak, rows)
        # It got most of its connections made before we dropped them (the
        # CSV is written once a second, so the last ones may be missing).
        self.assertGreaterEqual(max(row['closed'] + row['connected'] for row in rows), 75, rows)
        self.assertEqual([f for f in bystander.failures if f not in allowed], [])
        self.assertGreaterEqual(bystander.ok, 3)
        self.assertLess(bystander.slowest, slowest)

    def test_slowloris_dropped_at_header_timeout(self):
        # Heads trickle one field a second for ever; header timeout 2 s.
        result = self.attack(('--threads', '2', '--header-timeout', '2'),
                             ['-H', '-i', '1', '-r', '200', '-l', '20', '-p', '2', '/ok'], 200)
        # Slow heads hold no worker: the bystander is never kept waiting.
        self.check(*result, limit=18, slowest=1.0)

    def test_slow_body_answered_and_closed(self):
        # Heads arrive, bodies trickle. The library keeps each request until
        # its body is all there (nginx's request buffering), so the app never
        # sees one, and ends each at min_body_rate's grace (2 s here) with
        # 408: no worker is held and the connections are gone soon after.
        result = self.attack(('--threads', '2', '--header-timeout', '2',
                              '--min-body-rate-grace', '2'),
                             ['-B', '-i', '1', '-r', '100', '-s', '8192', '-l', '20', '-p', '3',
                              '-t', 'POST', '/ignore-body'], 100)
        self.check(*result, limit=6, slowest=1.0, min_peak=0)

    def test_slow_body_for_an_app_that_reads_holds_no_worker(self):
        # The same against an app that reads its body, with 8 threads: before
        # the library held bodies back, the trickles took every worker and
        # slowhttptest found the service unavailable from its 6th second on.
        status, rows, elapsed, bystander = self.attack(
            ('--threads', '8', '--min-body-rate-grace', '2'),
            ['-B', '-i', '1', '-r', '100', '-s', '8192', '-l', '20', '-p', '3', '-t', 'POST',
             '/read-body'], 100)
        self.check(status, rows, elapsed, bystander, limit=6, slowest=1.0, min_peak=0)
        self.assertEqual([row['service available'] for row in rows if row['service available'] != 100],
                         [], rows)


if __name__ == '__main__':
    unittest.main()
