"""`portico serve --workers N`: the supervisor, its workers and its signals.

Run by tests/deploy/run.sh with the servers under each interpreter named by
PORTICO_TEST_PYTHON (the test process itself is any Python 2.7 or 3.x)."""

from __future__ import print_function

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'python'))

from support import ServerProcess, httplib, subprocess_env  # noqa: E402

PYTHON = os.environ.get('PORTICO_TEST_PYTHON') or sys.executable


def get(port, path='/pid', timeout=10):
    """(status, body) over a fresh connection."""
    conn = httplib.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', path, headers={'Connection': 'close'})
        response = conn.getresponse()
        return response.status, response.read().decode('ascii')
    finally:
        conn.close()


def children(pid):
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as listing:
            return set(int(p) for p in listing.read().split())
    except IOError:
        return set()


def maps_library(pid):
    with open('/proc/%d/maps' % pid) as maps:
        return 'libportico.so' in maps.read()


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # a zombie is not alive for our purposes
    with open('/proc/%d/stat' % pid) as stat:
        return stat.read().split(')')[-1].split()[0] != 'Z'


def wait_for(predicate, timeout=15.0, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def start(workers=2, extra=()):
    return ServerProcess(app='deployapp:app', python=PYTHON, cwd=HERE,
                         args=['--workers', str(workers), '--threads', '4'] + list(extra))


class Load(threading.Thread):
    """Requests over fresh connections, back to back, counting failures."""

    def __init__(self, port, path='/pid'):
        threading.Thread.__init__(self)
        self.daemon = True
        self.port = port
        self.path = path
        self.running = True
        self.ok = 0
        self.failures = []
        self.pids = set()

    def run(self):
        while self.running:
            try:
                status, body = get(self.port, self.path)
                if status == 200:
                    self.ok += 1
                    self.pids.add(int(body.split()[0]))
                else:
                    self.failures.append('status %d' % status)
            except Exception as exc:  # refused, reset, timeout: all failures
                self.failures.append(repr(exc))

    def stop(self):
        self.running = False
        self.join(15)


class WorkersTest(unittest.TestCase):

    def test_workers_share_the_port_and_a_killed_one_is_replaced(self):
        server = start(2)
        try:
            pids = children(server.process.pid)
            self.assertEqual(len(pids), 2, pids)
            seen = self.pids_answering(server.port, pids)
            self.assertEqual(seen, pids, 'both workers answer')
            # The fork rule: only the workers have the Go runtime mapped.
            self.assertFalse(maps_library(server.process.pid), 'the supervisor loaded it')
            for pid in pids:
                self.assertTrue(maps_library(pid), 'worker %d serves without it?' % pid)
            print('\nworkers %s both answered' % sorted(pids), file=sys.stderr)

            victim = sorted(pids)[0]
            os.kill(victim, signal.SIGKILL)
            replaced = wait_for(lambda: len(children(server.process.pid) - {victim}) == 2
                                and victim not in children(server.process.pid))
            self.assertTrue(replaced, 'a new worker replaces the killed one')
            new = children(server.process.pid) - pids
            self.assertEqual(len(new), 1)
            seen = self.pids_answering(server.port, new)  # once it has started
            self.assertTrue(new <= seen, 'the replacement answers')
            self.assertNotIn(victim, seen)
            print('killed worker %d, replaced by %s' % (victim, sorted(new)), file=sys.stderr)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_sigterm_with_requests_in_flight_loses_none(self):
        server = start(2, ['--graceful-timeout', '10'])
        workers = children(server.process.pid)
        results = []

        def slow():
            try:
                results.append(get(server.port, '/slow?1.5')[0])
            except Exception as exc:
                results.append(repr(exc))

        clients = [threading.Thread(target=slow) for _ in range(6)]
        for client in clients:
            client.start()
        time.sleep(0.5)  # all six are in the apps now
        server.signal(signal.SIGTERM)
        for client in clients:
            client.join(15)
        code = server.wait()
        print('\nSIGTERM with 6 requests in flight: %s, exit %s' % (results, code),
              file=sys.stderr)
        self.assertEqual(results, [200] * 6)
        self.assertEqual(code, 0)
        self.assertFalse([pid for pid in workers if alive(pid)], 'workers exited too')
        self.assertRaises(socket.error, get, server.port)
        server.log.close()

    def test_sighup_replaces_every_worker_refusing_no_connection(self):
        server = start(2)
        try:
            old = children(server.process.pid)
            load = Load(server.port)
            load.start()
            time.sleep(0.5)
            server.signal(signal.SIGHUP)
            replaced = wait_for(lambda: not (children(server.process.pid) & old)
                                and len(children(server.process.pid)) == 2, timeout=30)
            new = children(server.process.pid)
            # Traffic keeps flowing to the new workers for a moment.
            wait_for(lambda: new <= load.pids, timeout=10)
            time.sleep(0.3)
            load.stop()
            print('\nSIGHUP: workers %s -> %s; %d requests, %d failed %s'
                  % (sorted(old), sorted(new), load.ok, len(load.failures),
                     load.failures[:3]), file=sys.stderr)
            self.assertTrue(replaced, 'all old workers replaced')
            self.assertTrue(new <= load.pids, 'the new workers answered')
            self.assertEqual(load.failures, [])
            self.assertGreater(load.ok, 50)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_sigquit_stops_at_once(self):
        server = start(2)
        workers = children(server.process.pid)
        client = threading.Thread(target=lambda: self.assertRaises(Exception, get, server.port,
                                                                   '/slow?30'))
        client.start()
        time.sleep(0.3)
        started = time.time()
        server.signal(signal.SIGQUIT)
        code = server.wait(5)
        took = time.time() - started
        client.join(10)
        server.log.close()
        self.assertIsNotNone(code, 'the supervisor exits')
        self.assertLess(took, 3.0)
        self.assertFalse([pid for pid in workers if alive(pid)], 'workers gone')

    def test_socket_activation_and_fd_bind(self):
        """LISTEN_FDS/LISTEN_PID as systemd sets them (the launcher binds,
        then execs portico in the same process), and --bind fd://N."""
        for extra in ([], ['--workers', '2'], ['--bind', 'fd://3', '--workers', '2']):
            launcher = (
                'import os, socket, sys\n'
                's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)\n'
                'if s.fileno() != 3: os.dup2(s.fileno(), 3)\n'
                'getattr(os, "set_inheritable", lambda fd, on: None)(3, True)\n'
                'sys.stdout.write("%d\\n" % s.getsockname()[1]); sys.stdout.flush()\n'
                'if "--bind" not in sys.argv:\n'
                '    os.environ["LISTEN_FDS"] = "1"; os.environ["LISTEN_PID"] = str(os.getpid())\n'
                'os.execv(sys.executable, [sys.executable, "-m", "portico", "serve", '
                '"deployapp:app"] + sys.argv[1:])\n')
            process = subprocess.Popen([PYTHON, '-c', launcher] + extra, cwd=HERE,
                                       env=subprocess_env(), stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, close_fds=False)
            try:
                port = int(process.stdout.readline())
                status = wait_for(lambda: self._answers(port), timeout=20)
                self.assertEqual(status, 200, 'serves on the passed socket with %s' % extra)
                if '--workers' in extra:
                    self.assertEqual(len(children(process.pid)), 2)
            finally:
                process.send_signal(signal.SIGTERM)
                _, err = process.communicate()
            self.assertEqual(process.returncode, 0, err)

    @unittest.skipUnless(os.path.exists('/usr/bin/systemd-socket-activate'),
                         'systemd-socket-activate not installed')
    def test_systemd_socket_activate(self):
        """systemd's own tool holds the socket and execs portico on the first
        connection, which waits in the queue until a worker takes it."""
        sock = socket.socket()
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
        sock.close()
        process = subprocess.Popen(
            ['/usr/bin/systemd-socket-activate', '-l', '127.0.0.1:%d' % port,
             '-E', 'PYTHONPATH', '-E', 'PORTICO_LIBRARY',
             PYTHON, '-m', 'portico', 'serve', 'deployapp:app', '--workers', '2'],
            cwd=HERE, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            time.sleep(0.3)
            status = wait_for(lambda: self._answers(port), timeout=20)
            self.assertEqual(status, 200)
            self.assertEqual(len(children(process.pid)), 2)
        finally:
            process.send_signal(signal.SIGTERM)
            output = process.communicate()[0].decode('utf-8', 'replace')
        self.assertEqual(process.returncode, 0, output)

    def test_a_worker_that_cannot_start_stops_the_supervisor(self):
        """An app that does not import is not restarted forever: the
        supervisor exits with the worker's status."""
        process = subprocess.Popen([PYTHON, '-m', 'portico', 'serve', 'no_such_module:app',
                                    '--bind', '127.0.0.1:0', '--workers', '2'], cwd=HERE,
                                   env=subprocess_env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while process.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        if process.poll() is None:
            process.kill()
        output = process.communicate()[0].decode('utf-8', 'replace')
        self.assertEqual(process.returncode, 2, output)
        self.assertIn("cannot import 'no_such_module'", output)

    def pids_answering(self, port, wanted, timeout=15):
        """The pids that answer requests until all of WANTED have (or TIMEOUT)."""
        seen = set()
        deadline = time.time() + timeout
        while not wanted <= seen and time.time() < deadline:
            status, body = get(port)
            self.assertEqual(status, 200)
            seen.add(int(body.split()[0]))
            time.sleep(0.005)
        return seen

    @staticmethod
    def _answers(port):
        try:
            return get(port, timeout=2)[0]
        except Exception:
            return None


if __name__ == '__main__':
    unittest.main()
