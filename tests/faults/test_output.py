"""Output for a client that does not read stays bounded, measured on the
`portico serve` process (floodapps.py): its peak RSS (VmHWM) may grow at
most 20 MB over its resting RSS while

  - a client sends a million 125-byte WebSocket pings and reads nothing
    (reconnecting whenever the server drops it), over HTTP/1.1 to a WSGI
    gateway app, to an ASGI app (inline event mode and library threads), and
    over HTTP/2 (RFC 8441); the app must see close 1008 and the server log
    the drop;
  - an app streams 200 MB to a client that reads nothing, over HTTP/1.1 and
    over HTTP/2 with the client's windows opened to 2^31 - 1;
  - an app sends WebSocket messages for ever to a client that reads
    nothing: its send blocks (WSGI) or awaits (ASGI), nothing is dropped.

Before the bound, the pings grew the server by about 500 MB and the HTTP/2
answer by 550 MB. Run with Debian's python3 (python3-h2 for HTTP/2); under
CI=true a missing h2 module is a failure, not a skip."""

import base64
import json
import os
import re
import socket
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'python'))

from support import Conversation, ServerProcess, request_bytes  # noqa: E402

try:
    import h2.config
    import h2.connection
    import h2.settings
    import hyperframe.frame
except ImportError:
    h2 = None

MAX_GROWTH_KIB = 20 * 1024
BANNER = re.compile(r'portico: serving \S+ on http://127\.0\.0\.1:(\d+) ')
PINGS = 1000000
PING = b'\x89\xfd\x00\x00\x00\x00' + b'p' * 125  # masked (with a zero key), 125 bytes
BATCH = 1000
QUEUE_FULL_REASON = 'peer does not read: output queue over its limit'


def memory(pid):
    """(VmRSS, VmHWM) of PID in KiB."""
    fields = {}
    with open('/proc/%d/status' % pid) as status:
        for line in status:
            name, _, value = line.partition(':')
            fields[name] = value.strip()
    return int(fields['VmRSS'].split()[0]), int(fields['VmHWM'].split()[0])


def non_reader(port):
    """A connection with a small receive buffer that the test never reads."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(30)
    sock.connect(('127.0.0.1', port))
    return sock


def open_websocket(port, path='/ws'):
    sock = non_reader(port)
    key = base64.b64encode(os.urandom(16)).decode('ascii')
    sock.sendall(('GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
                  'Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n'
                  % (path, key)).encode('ascii'))
    head = b''
    while b'\r\n\r\n' not in head:
        data = sock.recv(1)
        if not data:
            raise IOError('closed during the handshake')
        head += data
    if not head.startswith(b'HTTP/1.1 101 '):
        raise IOError('handshake answered %r' % head.split(b'\r\n')[0])
    return sock


def h2_non_reader(port):
    """An HTTP/2 connection whose windows are open to 2^31 - 1 and which
    reads nothing after the server's SETTINGS; returns (socket, H2Connection)."""
    sock = non_reader(port)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.local_settings = h2.settings.Settings(client=True, initial_values={
        h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2 ** 31 - 1})
    conn.initiate_connection()
    conn.increment_flow_control_window(2 ** 31 - 1 - 65535)
    sock.sendall(conn.data_to_send())
    conn.receive_data(sock.recv(65536))
    sock.sendall(conn.data_to_send())
    return sock, conn


class FloodServer(ServerProcess):
    """ServerProcess for WSGI and ASGI banners alike."""

    def _wait_for_banner(self):
        deadline = time.time() + 20
        while time.time() < deadline:
            match = BANNER.search(self.output())
            if match:
                return '127.0.0.1', int(match.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        output = self.output()
        self.stop()
        raise AssertionError('server did not start; output:\n' + output)


class Measured(object):
    """`portico serve floodapps:APP ARGS`, its resting RSS taken after one
    request; growth() is the peak since, in KiB."""

    def __init__(self, app, *args):
        self.server = FloodServer(app='floodapps:' + app, args=args, cwd=HERE)
        self.port = self.server.port
        self.get('/')
        time.sleep(1)
        self.rest, _ = memory(self.server.process.pid)
        self.sockets = []

    def get(self, path):
        conversation = Conversation(self.port)
        try:
            conversation.send(request_bytes('GET', path, [('Connection', 'close')], b''))
            return conversation.read_response('GET')
        finally:
            conversation.close()

    def growth(self):
        time.sleep(1)
        return memory(self.server.process.pid)[1] - self.rest

    def close(self):
        for sock in self.sockets:
            sock.close()
        return self.server.stop()


def require_h2(test):
    if h2 is None:
        if os.environ.get('CI') == 'true':
            test.fail('python3-h2 is missing (run with Debian\'s /usr/bin/python3)')
        test.skipTest('no h2 module')


class PingFlood(unittest.TestCase):
    def flood(self, measured, open_session, send):
        """Pings until PINGS went in, on as many sessions as the server drops;
        returns the number of sessions."""
        batch = PING * BATCH
        sent, sessions = 0, 0
        deadline = time.time() + 120
        while sent < PINGS and time.time() < deadline:
            session = open_session()
            measured.sockets.append(session[0])
            sessions += 1
            try:
                while sent < PINGS:
                    send(session, batch)
                    sent += BATCH
            except (IOError, OSError):
                pass  # dropped: reconnect
        self.assertEqual(sent, PINGS)
        return sessions

    def check(self, name, app, *args, **kw):
        over_h2 = kw.get('h2', False)
        if over_h2:
            require_h2(self)
        measured = Measured(app, *args)
        try:
            if over_h2:
                frame = hyperframe.frame.DataFrame(1)
                frame.data = PING * 100
                data = frame.serialize() * (BATCH // 100)

                def open_session():
                    sock, conn = h2_non_reader(measured.port)
                    conn.send_headers(1, [(':method', 'CONNECT'), (':protocol', 'websocket'),
                                          (':path', '/ws'), (':scheme', 'http'), (':authority', 'x'),
                                          ('sec-websocket-version', '13')])
                    sock.sendall(conn.data_to_send())
                    return sock, conn

                def send(session, batch):
                    # DATA without waiting for WINDOW_UPDATE: the server
                    # credits what it consumed at once; this client reads nothing.
                    session[0].sendall(data)
            else:
                def open_session():
                    return open_websocket(measured.port), None

                def send(session, batch):
                    session[0].sendall(batch)
            sessions = self.flood(measured, open_session, send)
            growth = measured.growth()
            deadline = time.time() + 10
            while True:
                closes = json.loads(measured.get('/last').body.decode('ascii'))
                if closes or time.time() > deadline:
                    break
                time.sleep(0.1)
            log = measured.server.output()
        finally:
            measured.close()
        sys.stderr.write('\n  %s: %d pings on %d sessions, server grew %.1f MB (peak RSS over '
                         'resting)\n' % (name, PINGS, sessions, growth / 1024.0))
        self.assertLess(growth, MAX_GROWTH_KIB)
        self.assertTrue(closes, 'the app saw no close')
        self.assertEqual(closes[0], [1008, QUEUE_FULL_REASON])
        self.assertIn('WebSocket /ws closed with 1008 and its connection dropped', log)

    def test_wsgi_gateway_websocket(self):
        self.check('WSGI, HTTP/1.1', 'wsgi')

    def test_asgi_inline(self):
        self.check('ASGI, HTTP/1.1 inline', 'asgi', '--interface', 'asgi')

    def test_asgi_library_threads(self):
        # The limit set by its flag (to the default's half) takes the same way.
        self.check('ASGI, HTTP/1.1 library threads', 'asgi', '--interface', 'asgi', '--no-inline-io',
                   '--ws-max-queued', '2097152')

    def test_wsgi_over_h2(self):
        self.check('WSGI, HTTP/2 (RFC 8441)', 'wsgi', h2=True)


class StreamToNonReader(unittest.TestCase):
    """200 MB to a client that reads nothing: the app waits."""

    def check(self, name, app, *args, **kw):
        over_h2 = kw.get('h2', False)
        if over_h2:
            require_h2(self)
        measured = Measured(app, *args)
        try:
            if over_h2:
                sock, conn = h2_non_reader(measured.port)
                conn.send_headers(1, [(':method', 'GET'), (':path', '/stream?3200'), (':scheme', 'http'),
                                      (':authority', 'x')], end_stream=True)
                sock.sendall(conn.data_to_send())
            else:
                sock = non_reader(measured.port)
                sock.sendall(b'GET /stream?3200 HTTP/1.1\r\nHost: x\r\n\r\n')
            measured.sockets.append(sock)
            time.sleep(4)  # unbounded, the whole answer is buffered by now
            growth = measured.growth()
        finally:
            measured.close()
        sys.stderr.write('\n  %s: server grew %.1f MB\n' % (name, growth / 1024.0))
        self.assertLess(growth, MAX_GROWTH_KIB)

    def test_wsgi_h1(self):
        self.check('WSGI, HTTP/1.1', 'wsgi')

    def test_wsgi_h1_library_threads(self):
        self.check('WSGI, HTTP/1.1 library threads', 'wsgi', '--no-inline-io')

    def test_asgi_h1(self):
        self.check('ASGI, HTTP/1.1', 'asgi', '--interface', 'asgi')

    def test_wsgi_h2(self):
        self.check('WSGI, HTTP/2', 'wsgi', h2=True)

    def test_asgi_h2(self):
        self.check('ASGI, HTTP/2', 'asgi', '--interface', 'asgi', h2=True)


class SendToNonReader(unittest.TestCase):
    """An app sending 64 KiB messages to a WebSocket client that reads
    nothing waits (backpressure): it is neither dropped nor buffered."""

    def check(self, name, app, *args):
        measured = Measured(app, *args)
        try:
            measured.sockets.append(open_websocket(measured.port, '/blast'))
            time.sleep(3)
            first = json.loads(measured.get('/sent').body.decode('ascii'))
            time.sleep(1)
            then = json.loads(measured.get('/sent').body.decode('ascii'))
            growth = measured.growth()
        finally:
            measured.close()
        sys.stderr.write('\n  %s: the app waits after %d messages; server grew %.1f MB\n'
                         % (name, then['sent'], growth / 1024.0))
        self.assertEqual(then, first, 'the app went on sending to a client that reads nothing')
        self.assertIsNone(then['error'])
        self.assertLess(then['sent'] * 65536, 64 << 20)
        self.assertLess(growth, MAX_GROWTH_KIB)

    def test_wsgi(self):
        self.check('WSGI', 'wsgi')

    def test_asgi_inline(self):
        self.check('ASGI inline', 'asgi', '--interface', 'asgi')

    def test_asgi_library_threads(self):
        self.check('ASGI library threads', 'asgi', '--interface', 'asgi', '--no-inline-io')


if __name__ == '__main__':
    unittest.main()
