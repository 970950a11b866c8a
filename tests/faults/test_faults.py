"""Faults end to end, through `python -m portico serve faultapps:app`: apps
that fail or hang, clients that vanish, SIGTERM with work in flight. Each
test asserts the exact answer and that the library gave back every request
id, connection and goroutine (portico.debug_stats through /stats).

Run with Debian's python3 (it has python3-h2 for the HTTP/2 client)."""

import json
import os
import signal
import socket
import struct
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'python'))

from support import (Conversation, ServerProcess, library_available, request_bytes)  # noqa: E402
from wsclient import WebSocketClient as WebSocket  # noqa: E402


def reset(sock):
    """Close with RST, as a killed client does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    sock.close()


class FaultServer(object):
    def __init__(self, *args):
        self.process = ServerProcess(app='faultapps:app', args=args, cwd=HERE)
        self.port = self.process.port
        self.baseline = self.stats()

    def get(self, path, method='GET', body=b'', headers=()):
        conversation = Conversation(self.port)
        try:
            conversation.send(request_bytes(method, path, list(headers) + [('Connection', 'close')],
                                            body))
            return conversation.read_response(method)
        finally:
            conversation.close()

    def stats(self):
        return json.loads(self.get('/stats').body.decode('utf-8'))

    def last(self, name, want=None, timeout=5):
        """What the app recorded under NAME (waiting for WANT if given)."""
        deadline = time.time() + timeout
        while True:
            value = json.loads(self.get('/last?name=' + name).body.decode('utf-8'))
            if want is None or value == want or time.time() > deadline:
                return value
            time.sleep(0.05)

    def settled(self, test):
        """Wait until only the /stats request itself is live; return the
        goroutine count then."""
        deadline = time.time() + 5
        while True:
            now = self.stats()
            if (now['requests'], now['connections']) == (1, 1) or time.time() > deadline:
                break
            time.sleep(0.05)
        test.assertEqual((now['requests'], now['connections']), (1, 1), now)
        return now['goroutines']

    def no_growth(self, test, scenario):
        """Run SCENARIO(run) twice. Ids and connections must be given back
        each time; goroutines must not grow from the first run to the second
        (the first may start lazy singletons of the Go runtime)."""
        scenario(1)
        first = self.settled(test)
        scenario(2)
        deadline = time.time() + 5
        while True:
            second = self.settled(test)
            if second <= first or time.time() > deadline:
                break
            time.sleep(0.05)
        test.assertLessEqual(second, first, 'goroutines grew from %d to %d' % (first, second))


@unittest.skipUnless(library_available(), 'libportico.so not built')
class AppAndClientFaults(unittest.TestCase):
    """One worker thread: a fault that kept it would fail every later test."""

    @classmethod
    def setUpClass(cls):
        cls.server = FaultServer('--threads', '1')

    @classmethod
    def tearDownClass(cls):
        code = cls.server.process.stop()
        if code != 0:
            raise AssertionError('server exit %s:\n%s' % (code, cls.server.process.output()))

    def tearDown(self):
        self.assertEqual(self.server.get('/ok').status, 200)  # the one worker is free

    def test_raise_before_start_response(self):
        def scenario(run):
            conversation = Conversation(self.server.port)
            self.addCleanup(conversation.close)
            conversation.send(request_bytes('GET', '/raise-before'))
            self.assertEqual(conversation.read_response().status, 500)
            # The connection and the worker both carry on.
            conversation.send(request_bytes('GET', '/ok'))
            response = conversation.read_response()
            self.assertEqual((response.status, response.body), (200, b'ok\n'))
            conversation.close()
        self.server.no_growth(self, scenario)

    def test_raise_after_start_response(self):
        self.server.no_growth(self, lambda run: self.assertEqual(
            self.server.get('/raise-after').status, 500))

    def test_raise_midstream_cuts_the_response(self):
        def scenario(run):
            conversation = Conversation(self.server.port)
            self.addCleanup(conversation.close)
            conversation.send(request_bytes('GET', '/raise-midstream'))
            version, status, reason, headers = conversation.read_head()
            self.assertEqual(status, 200)
            self.assertIn(('transfer-encoding', 'chunked'), headers)
            # The first chunk, then the connection closes without the last chunk.
            self.assertEqual(conversation.read_until_closed(), b'b\r\nfirst part\n\r\n')
            conversation.close()
        self.server.no_growth(self, scenario)

    def test_client_gone_mid_request_body(self):
        def scenario(run):
            conversation = Conversation(self.server.port)
            conversation.send(request_bytes('POST', '/read-body?run=%d' % run,
                                            [('Content-Length', '1000000')]) + b'a' * 100000)
            time.sleep(0.2)
            reset(conversation.sock)
            self.assertEqual(self.server.last('read-body', ['BodyReadError', True]),
                             ['BodyReadError', True])
        self.server.no_growth(self, scenario)

    def test_client_gone_mid_response(self):
        def scenario(run):
            tag = 'cut%d' % run
            conversation = Conversation(self.server.port)
            conversation.send(request_bytes('GET', '/stream?n=4000&tag=' + tag))  # 250 MiB
            self.assertEqual(conversation.read_head()[1], 200)
            conversation.sock.recv(65536)
            reset(conversation.sock)
            self.assertEqual(self.server.last(tag, {'closed': True, 'complete': False}),
                             {'closed': True, 'complete': False})
        self.server.no_growth(self, scenario)

    def test_app_never_reads_the_body(self):
        def scenario(run):
            conversation = Conversation(self.server.port)
            self.addCleanup(conversation.close)
            conversation.send(request_bytes('POST', '/ignore-body', body=b'z' * 1000000))
            response = conversation.read_response()
            self.assertEqual((response.status, response.body), (200, b'ignored\n'))
            conversation.send(request_bytes('GET', '/ok'))
            self.assertEqual(conversation.read_response().body, b'ok\n')
            conversation.close()
        self.server.no_growth(self, scenario)

    def test_websocket_peer_vanishes(self):
        def scenario(run):
            tag = 'vanish%d' % run
            # The held WebSocket has its own thread (beyond --threads).
            client = WebSocket.connect(self.server.port, '/ws-hold?tag=' + tag)
            self.assertEqual(self.server.last(tag, 'open'), 'open')
            reset(client.conversation.sock)
            self.assertEqual(self.server.last(tag, [1006]), [1006])
        self.server.no_growth(self, scenario)


@unittest.skipUnless(library_available(), 'libportico.so not built')
class RequestTimeout(unittest.TestCase):

    def test_hung_app_gets_503_and_the_late_answer_is_dropped(self):
        server = FaultServer('--threads', '2', '--request-timeout', '0.5')
        self.addCleanup(server.process.stop)

        def scenario(run):
            conversation = Conversation(server.port)
            self.addCleanup(conversation.close)
            started = time.time()
            conversation.send(request_bytes('GET', '/block'))
            response = conversation.read_response()
            elapsed = time.time() - started
            self.assertEqual((response.status, response.header('connection')), (503, 'close'))
            self.assertTrue(0.45 < elapsed < 3, elapsed)
            self.assertTrue(conversation.is_closed(2))
            conversation.close()
            # The app, released, answers into the void; the server is unharmed.
            self.assertEqual(server.get('/release').status, 200)
            self.assertEqual(server.last('block', 'answered'), 'answered')
            self.assertEqual(server.get('/ok').body, b'ok\n')
            # The late answer is dropped quietly, like one to a client gone.
            self.assertNotIn('Traceback', server.process.output())
        server.no_growth(self, scenario)


@unittest.skipUnless(library_available(), 'libportico.so not built')
class SigtermInFlight(unittest.TestCase):
    """SIGTERM with an HTTP/1.1 request, an HTTP/2 stream and a WebSocket in
    flight: both requests complete, the WebSocket gets 1001, the h2
    connection GOAWAY NO_ERROR, nothing new is accepted, exit code 0."""

    def test_sigterm(self):
        import hpack
        from hyperframe.frame import (DataFrame, Frame, GoAwayFrame, HeadersFrame,
                                      SettingsFrame)
        server = FaultServer('--threads', '4', '--graceful-timeout', '10')
        self.addCleanup(server.process.stop)

        h1 = Conversation(server.port)
        self.addCleanup(h1.close)
        h1.send(request_bytes('GET', '/slow?s=1'))

        # HTTP/2 with raw frames: python3-h2's state machine closes at GOAWAY
        # and would refuse the answer that rightly follows it (RFC 9113 6.8).
        sock = socket.create_connection(('127.0.0.1', server.port), timeout=10)
        self.addCleanup(sock.close)
        headers = HeadersFrame(1)
        headers.data = hpack.Encoder().encode([(':method', 'GET'), (':scheme', 'http'),
                                               (':authority', 'test.example'),
                                               (':path', '/slow?s=1')])
        headers.flags.add('END_HEADERS')
        headers.flags.add('END_STREAM')
        sock.sendall(b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + SettingsFrame(0).serialize()
                     + headers.serialize())

        ws = WebSocket.connect(server.port, '/ws-hold?tag=term')
        self.addCleanup(ws.conversation.close)
        self.assertEqual(server.last('term', 'open'), 'open')
        time.sleep(0.3)  # both slow requests are inside the app now
        server.process.signal(signal.SIGTERM)

        kind, (code, _) = ws.recv()
        self.assertEqual((kind, code), ('close', 1001))
        ws.close(1001)

        response = h1.read_response()
        self.assertEqual((response.status, response.body), (200, b'slow done\n'))

        status, body, ended, goaway = None, b'', False, None
        decoder, buf = hpack.Decoder(), b''
        deadline = time.time() + 10
        while time.time() < deadline and not (ended and goaway is not None):
            data = sock.recv(65536)
            if not data:
                break
            buf += data
            while len(buf) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(buf[:9]))
                if len(buf) < 9 + length:
                    break
                frame.parse_body(memoryview(buf[9:9 + length]))
                buf = buf[9 + length:]
                if isinstance(frame, HeadersFrame) and frame.stream_id == 1:
                    status = dict(decoder.decode(frame.data)).get(':status')
                elif isinstance(frame, DataFrame) and frame.stream_id == 1:
                    body += frame.data
                elif isinstance(frame, GoAwayFrame):
                    goaway = frame.error_code
                if frame.stream_id == 1 and 'END_STREAM' in frame.flags:
                    ended = True
        self.assertEqual((status, body, ended), ('200', b'slow done\n', True))
        self.assertEqual(goaway, 0)

        time.sleep(0.2)
        self.assertRaises(socket.error, socket.create_connection,
                          ('127.0.0.1', server.port), 2)
        self.assertEqual(server.process.wait(), 0, server.process.output())


if __name__ == '__main__':
    unittest.main()
