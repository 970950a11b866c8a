"""Shared helpers for the Python suite: run `python -m portico serve` as a
subprocess, and speak raw HTTP/1.x to it over sockets.

Everything here is bounded in time, and a server is stopped by its own PID.
"""

from __future__ import print_function

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(HERE))
BINDINGS = os.path.join(CHECKOUT, 'bindings', 'python')
if BINDINGS not in sys.path:
    sys.path.insert(0, BINDINGS)

try:
    import http.client as httplib  # noqa: F401 (re-exported for the tests)
except ImportError:  # Python 2
    import httplib  # noqa: F401

START_TIMEOUT = 20.0   # seconds for a server to print its banner
STOP_TIMEOUT = 15.0    # seconds for a server to exit after SIGTERM
IO_TIMEOUT = 10.0      # seconds for any socket operation

BANNER = re.compile(r'portico: serving \S+ on (\S+) \(threads (\d+)\)')


def library_available():
    """True if the binding can find libportico.so (checked without loading it
    here, so that this test process stays fork-clean)."""
    from portico import _lib
    return any(os.path.exists(path) for path in _lib.candidate_paths())


def requires_library(cls):
    return unittest.skipUnless(library_available(), 'libportico.so not built')(cls)


def subprocess_env():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [BINDINGS, HERE] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env['PYTHONUNBUFFERED'] = '1'
    return env


class ServerProcess(object):
    """`python -m portico serve APP --bind 127.0.0.1:0 ARGS...`, with stderr in
    a temporary file (so a chatty server never blocks on a full pipe)."""

    def __init__(self, app='apps:app', args=(), python=None, cwd=HERE):
        self.log = tempfile.TemporaryFile()
        command = [python or sys.executable, '-m', 'portico', 'serve', app,
                   '--bind', '127.0.0.1:0'] + list(args)
        self.process = subprocess.Popen(command, cwd=cwd, env=subprocess_env(),
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.host, self.port = self._wait_for_banner()

    def _wait_for_banner(self):
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            match = BANNER.search(self.output())
            if match:
                host, _, port = match.group(1).split('://', 1)[1].rpartition(':')
                return host, int(port)
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        output = self.output()
        self.stop()
        raise AssertionError('server did not start; output:\n' + output)

    def output(self):
        # Read through a file description of our own: seeking the one the
        # server writes through would move its offset too, and its next
        # line would overwrite the start of the log.
        with open('/proc/self/fd/%d' % self.log.fileno(), 'rb') as log:
            return log.read().decode('utf-8', 'replace')

    def signal(self, signum):
        if self.process.poll() is None:
            os.kill(self.process.pid, signum)

    def wait(self, timeout=STOP_TIMEOUT):
        """The exit code, or None if still running after TIMEOUT seconds."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            code = self.process.poll()
            if code is not None:
                return code
            time.sleep(0.02)
        return None

    def stop(self):
        """SIGTERM, then SIGKILL if it lingers; returns the exit code."""
        self.signal(signal.SIGTERM)
        code = self.wait()
        if code is None:
            self.process.kill()
            code = self.wait(5)
        self.log.close()
        return code

    def connect(self):
        return connect(self.port, self.host)

    def http(self):
        return httplib.HTTPConnection(self.host, self.port, timeout=IO_TIMEOUT)


def connect(port, host='127.0.0.1'):
    sock = socket.create_connection((host, port), timeout=IO_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Response(object):
    def __init__(self, version, status, reason, headers, body):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # [(lower-case name, value)]
        self.body = body

    def header(self, name, default=None):
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def __repr__(self):
        return '<Response %s %d %r %r>' % (self.version, self.status, self.headers, self.body[:80])


class Conversation(object):
    """One client connection: send raw bytes, read responses one at a time
    (pipelined answers stay buffered for the next read_response)."""

    def __init__(self, port, host='127.0.0.1'):
        self.sock = connect(port, host)
        self.buffer = b''

    def send(self, data):
        self.sock.sendall(data)

    def _more(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError('connection closed with %r buffered' % self.buffer[:200])
        self.buffer += data

    def _line(self):
        while b'\r\n' not in self.buffer:
            self._more()
        line, self.buffer = self.buffer.split(b'\r\n', 1)
        return line

    def _exactly(self, n):
        while len(self.buffer) < n:
            self._more()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_head(self):
        version, status, reason = (self._line().decode('latin-1').split(' ', 2) + [''])[:3]
        headers = []
        while True:
            line = self._line()
            if not line:
                break
            name, _, value = line.decode('latin-1').partition(':')
            headers.append((name.strip().lower(), value.strip()))
        return version, int(status), reason, headers

    def read_response(self, method='GET'):
        version, status, reason, headers = self.read_head()
        response = Response(version, status, reason, headers, b'')
        if method == 'HEAD' or status in (204, 304) or 100 <= status < 200:
            return response
        length = response.header('content-length')
        if response.header('transfer-encoding', '').lower() == 'chunked':
            parts = []
            while True:
                size = int(self._line().split(b';')[0], 16)
                if size == 0:
                    while self._line():  # trailers, then the blank line
                        pass
                    break
                parts.append(self._exactly(size))
                self._exactly(2)
            response.body = b''.join(parts)
        elif length is not None:
            response.body = self._exactly(int(length))
        else:
            response.body = self.read_until_closed()
        return response

    def read_until_closed(self, timeout=IO_TIMEOUT):
        """Everything until the server closes; AssertionError if it does not."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.buffer += data
        except socket.timeout:
            raise AssertionError('server did not close the connection within %ss' % timeout)
        data, self.buffer = self.buffer, b''
        return data

    def is_closed(self, timeout=IO_TIMEOUT):
        """True if the server closes (EOF or reset) with nothing more sent."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except socket.error:  # ECONNRESET: closed with unread input pending
            return True
        finally:
            self.sock.settimeout(IO_TIMEOUT)
        if data:
            self.buffer += data
            return False
        return True

    def close(self):
        self.sock.close()


def request_bytes(method='GET', path='/', headers=(), body=b'', version='HTTP/1.1',
                  host='test.example'):
    lines = ['%s %s %s' % (method, path, version)]
    if host is not None:
        lines.append('Host: %s' % host)
    for name, value in headers:
        lines.append('%s: %s' % (name, value))
    if body and not any(name.lower() in ('content-length', 'transfer-encoding')
                        for name, _ in headers):
        lines.append('Content-Length: %d' % len(body))
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + body


def chunked(data, size=65536):
    """DATA in chunked transfer coding."""
    out = []
    for start in range(0, len(data), size):
        piece = data[start:start + size]
        out.append(('%x\r\n' % len(piece)).encode('ascii') + piece + b'\r\n')
    out.append(b'0\r\n\r\n')
    return b''.join(out)


class ServerTestCase(unittest.TestCase):
    """A TestCase with one server for the whole class."""

    server_args = ('--threads', '4')
    app = 'apps:app'

    @classmethod
    def setUpClass(cls):
        if not library_available():
            raise unittest.SkipTest('libportico.so not built')
        cls.server = ServerProcess(app=cls.app, args=cls.server_args)

    @classmethod
    def tearDownClass(cls):
        server = getattr(cls, 'server', None)
        if server is not None:
            server.stop()

    def conversation(self):
        conversation = Conversation(self.server.port, self.server.host)
        self.addCleanup(conversation.close)
        return conversation

    def exchange(self, raw, method='GET'):
        """Send RAW on a new connection and read one response."""
        conversation = self.conversation()
        conversation.send(raw)
        return conversation.read_response(method)

    def get(self, path, headers=(), **kwargs):
        return self.exchange(request_bytes('GET', path, headers, **kwargs))
