"""Load: 5,000 concurrent keep-alive connections and 1,000 WebSockets against
`portico serve` on this 2-core machine, zero errors allowed. The client is
tests/faults/load (Go; built by make test-faults, or here with go build)."""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'python'))

from support import library_available  # noqa: E402
from test_faults import FaultServer  # noqa: E402

CONNS, WEBSOCKETS = 5000, 1000


def load_client():
    path = os.environ.get('PORTICO_LOADCLIENT')
    if path:
        return path
    path = os.path.join(tempfile.mkdtemp(), 'loadclient')
    subprocess.check_call(['go', 'build', '-o', path, '.'], cwd=os.path.join(HERE, 'load'))
    return path


def raise_nofile(need):
    """Sockets on both ends of 6,000 connections: the soft limit up to the
    hard one (inherited by the server process)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def vm_hwm_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])


@unittest.skipUnless(library_available(), 'libportico.so not built')
class Load(unittest.TestCase):

    def test_5000_keepalive_connections_and_1000_websockets(self):
        limit = raise_nofile(CONNS + WEBSOCKETS + 4000)
        if limit < CONNS + WEBSOCKETS + 200:
            self.skipTest('RLIMIT_NOFILE hard limit %d is too low' % limit)
        client = load_client()
        # Connections opened first wait for the last one before their next
        # request: on a busy machine that can take longer than the 5 s
        # keep-alive timeout, which is not what this test is about.
        server = FaultServer('--threads', '4', '--max-websockets', str(WEBSOCKETS + 100),
                             '--websocket-stack-size', '256', '--keepalive-timeout', '120')
        self.addCleanup(server.process.stop)
        started = time.time()
        done = subprocess.run([client, '-addr', '127.0.0.1:%d' % server.port,
                               '-conns', str(CONNS), '-ws', str(WEBSOCKETS)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=150)
        output = done.stdout.decode('utf-8', 'replace')
        figures = json.loads(output.strip().splitlines()[-1])
        sys.stderr.write('\n  load: %s; server peak RSS %d MiB; %.1f s\n'
                         % (output.strip(), vm_hwm_kib(server.process.process.pid) // 1024,
                            time.time() - started))
        self.assertEqual(done.returncode, 0, output)
        self.assertEqual((figures['Errors'], figures['Conns'], figures['Requests'],
                          figures['WebSockets'], figures['Messages']),
                         (0, CONNS, CONNS * 4, WEBSOCKETS, WEBSOCKETS * 3), output)
        server.settled(self)  # every id and connection given back


if __name__ == '__main__':
    unittest.main()
