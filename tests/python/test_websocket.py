"""WebSocket through the WSGI adapter: the handshake object, the WebSocket's
receive/send/ping/close, thread use (no starvation, --max-websockets), and
the 1001 close on SIGTERM. The client is the raw-socket one in wsclient.py."""

import json
import signal
import time
import unittest

import portico
from support import Conversation, ServerProcess, ServerTestCase, library_available, request_bytes
import wsclient
from wsclient import HandshakeFailed, WebSocketClient, handshake_bytes

WAIT = 10.0


class ExceptionsTest(unittest.TestCase):

    def test_exported(self):
        exc = portico.WebSocketClosed(4000, u'bye')
        self.assertEqual((exc.code, exc.reason), (4000, u'bye'))
        self.assertIn('4000', str(exc))
        self.assertTrue(issubclass(portico.WebSocketTimeout, Exception))
        self.assertEqual(portico.WebSocketRefused(503, 'full').status, 503)
        for name in ('WebSocketClosed', 'WebSocketTimeout', 'WebSocketRefused'):
            self.assertIn(name, portico.__all__)


class WebSocketTestCase(ServerTestCase):
    app = 'wsapps:app'
    server_args = ('--threads', '2')

    def ws(self, path, **kwargs):
        client = WebSocketClient.connect(self.server.port, path, **kwargs)
        self.addCleanup(client.shutdown)
        return client

    def json_get(self, path):
        response = self.get(path)
        self.assertEqual(response.status, 200, response)
        return json.loads(response.body.decode('utf-8'))

    def last(self, name):
        """What the app recorded under NAME, waiting for it to do so."""
        deadline = time.time() + WAIT
        while time.time() < deadline:
            value = self.json_get('/last?name=' + name)
            if value is not None:
                return value
            time.sleep(0.02)
        self.fail('the app recorded nothing as %r' % name)

    def thread_count(self):
        return self.json_get('/stats')['threads']

    def wait_for_threads(self, expected):
        deadline = time.time() + WAIT
        while time.time() < deadline:
            count = self.thread_count()
            if count == expected:
                return
            time.sleep(0.05)
        self.assertEqual(self.thread_count(), expected)


class WebSocketTest(WebSocketTestCase):

    def test_echo_text(self):
        client = self.ws('/echo')
        for text in (u'hello', u'', u'h\xe9llo w\u00f6rld \u2603 \U0001F600'):
            client.send(text)
            self.assertEqual(client.recv(), ('text', text))
        self.assertEqual(client.close_handshake()[0], 1000)
        self.assertTrue(client.is_closed())

    def test_echo_binary(self):
        client = self.ws('/echo')
        for data in (b'\x00\x01\xff', b'', bytes(bytearray(range(256))) * 3):
            client.send(data)
            self.assertEqual(client.recv(), ('binary', data))
        client.close_handshake()

    def test_echo_one_megabyte(self):
        client = self.ws('/echo')
        data = bytes(bytearray(range(256))) * 4096
        client.send(data)
        self.assertEqual(client.recv(), ('binary', data))
        text = u'\u00e9' * (512 * 1024)  # 1 MiB of UTF-8
        client.send(text)
        self.assertEqual(client.recv(), ('text', text))
        # And after the big ones, small messages still come through.
        client.send(u'small')
        self.assertEqual(client.recv(), ('text', u'small'))
        client.close_handshake()

    def test_one_megabyte_from_the_server(self):
        client = self.ws('/big?size=1048576')
        self.assertEqual(client.recv(), ('binary', b'\xab' * 1048576))
        client.close_handshake()

    def test_fragmented_message(self):
        client = self.ws('/echo')
        client.send_frame(1, u'frag'.encode('utf-8'), fin=False)
        client.send_frame(0, b'men', fin=False)
        client.send_frame(0, b'ted', fin=True)
        self.assertEqual(client.recv(), ('text', u'fragmented'))
        client.close_handshake()

    def test_subprotocol_negotiated(self):
        client = self.ws('/info?pick=last', protocols=['chat', 'superchat'])
        self.assertEqual(client.subprotocol, 'superchat')
        info = json.loads(client.recv_data())
        self.assertEqual(info['subprotocols'], ['chat', 'superchat'])
        self.assertEqual(info['subprotocol'], 'superchat')
        self.assertEqual(info['protocol'], 'HTTP/1.1')
        client.close_handshake()

    def test_no_subprotocol(self):
        client = self.ws('/info', protocols=['chat'])
        self.assertIsNone(client.subprotocol)
        info = json.loads(client.recv_data())
        self.assertEqual((info['subprotocols'], info['subprotocol']), (['chat'], None))
        client.close_handshake()

    def test_subprotocol_not_offered(self):
        client = self.ws('/bad-proto', protocols=['chat'])
        self.assertTrue(client.recv_data().startswith(u'ValueError: '))
        client.close_handshake()

    def test_extensions_offered_are_listed(self):
        client = self.ws('/info', extensions=['x-unknown; a=1', 'x-other'])
        info = json.loads(client.recv_data())
        self.assertEqual(info['extensions'], ['x-unknown; a=1', 'x-other'])
        self.assertNotIn('sec-websocket-extensions', client.headers)
        client.close_handshake()

    def test_extra_headers_on_101(self):
        client = self.ws('/echo')
        self.assertEqual(client.headers.get('x-portico-test'), 'yes')
        client.close_handshake()

    def test_reject(self):
        with self.assertRaises(HandshakeFailed) as caught:
            WebSocketClient.connect(self.server.port, '/reject')
        response = caught.exception.response
        self.assertEqual(response.status, 403)
        self.assertEqual(response.header('x-why'), 'not allowed')
        self.assertEqual(response.body, b'forbidden\n')

    def test_reject_keeps_the_connection_usable(self):
        conversation = self.conversation()
        conversation.send(handshake_bytes('/reject')[0])
        self.assertEqual(conversation.read_response().status, 403)
        conversation.send(request_bytes('GET', '/plain'))
        self.assertEqual(conversation.read_response().body, b'plain\n')

    def test_extension_absent_on_plain_request(self):
        self.assertNotIn('websocket', self.json_get('/extensions'))

    def test_receive_timeout(self):
        client = self.ws('/timeout')
        message = client.recv_data()
        self.assertTrue(message.startswith(u'timeout after 0.'), message)
        client.send(u'still open')
        self.assertEqual(client.recv_data(), u'still open')
        client.close_handshake()

    def test_client_close_code_and_reason(self):
        client = self.ws('/hold?tag=client-close')
        self.assertEqual(client.close_handshake(4001, u'client leaving')[0], 4001)
        self.assertEqual(self.last('client-close'), [4001, u'client leaving', True, 4001,
                                                     u'client leaving'])
        self.assertEqual(self.last('client-close-again'), [4001, u'client leaving'])
        self.assertEqual(self.last('client-close-send'), [4001, u'client leaving'])
        self.assertTrue(client.is_closed())

    def test_iteration_ends_on_close(self):
        client = self.ws('/echo?tag=iteration')
        client.send(u'one')
        self.assertEqual(client.recv_data(), u'one')
        client.close_handshake(1000, u'done')
        self.assertEqual(self.last('iteration'), [1000, u'done'])

    def test_client_vanishing_ends_the_app(self):
        client = self.ws('/hold?tag=vanish')
        client.shutdown()  # no close frame: the app sees 1006
        self.assertEqual(self.last('vanish')[:2], [1006, u''])
        self.assertEqual(self.last('vanish-send')[0], 1006)

    def test_server_initiated_close(self):
        client = self.ws('/server-close')
        client.send(u'go')
        self.assertEqual(client.recv(), ('close', (4000, u'bye now')))
        client.close(4000)
        self.assertTrue(client.is_closed())
        self.assertEqual(self.last('server-close')[0], 4000)

    def test_ping_from_the_app(self):
        client = self.ws('/ping')
        self.assertEqual(client.recv(), ('ping', b'are you there'))
        client.send(u'echo')
        self.assertEqual(client.recv_data(), u'echo')
        client.close_handshake()

    def test_ping_from_the_client(self):
        client = self.ws('/echo')
        client.ping(b'marco')
        client.send(u'after the ping')
        pongs = []
        self.assertEqual(client.recv(pongs=pongs), ('text', u'after the ping'))
        self.assertEqual(pongs, [b'marco'])
        client.close_handshake()

    def bad_input_closes_with(self, raw, code):
        """RAW bytes on an open WebSocket get a close frame with CODE, then
        the connection ends; another client is served meanwhile."""
        client = self.ws('/echo')
        bystander = self.ws('/echo')
        client.conversation.send(raw)
        kind, value = client.recv()
        self.assertEqual((kind, value[0]), ('close', code))
        self.assertTrue(client.is_closed())
        bystander.send(u'still here')
        self.assertEqual(bystander.recv(), ('text', u'still here'))
        bystander.close_handshake()

    def test_unmasked_frame_gets_1002(self):
        self.bad_input_closes_with(wsclient.encode_frame(wsclient.OP_TEXT, b'hi', mask=False), 1002)

    def test_bad_utf8_gets_1007(self):
        self.bad_input_closes_with(wsclient.encode_frame(wsclient.OP_TEXT, b'\xc3\x28'), 1007)

    def test_oversized_control_frame_gets_1002(self):
        self.bad_input_closes_with(wsclient.encode_frame(wsclient.OP_PING, b'x' * 126), 1002)

    def test_reserved_opcode_gets_1002(self):
        self.bad_input_closes_with(wsclient.encode_frame(0x3, b'x'), 1002)

    def test_truncated_close_gets_1002(self):
        self.bad_input_closes_with(wsclient.encode_frame(wsclient.OP_CLOSE, b'\x03'), 1002)

    def test_bad_version_is_answered_426_without_the_app(self):
        before = self.json_get('/calls')
        with self.assertRaises(HandshakeFailed) as caught:
            WebSocketClient.connect(self.server.port, '/echo', version='8')
        response = caught.exception.response
        self.assertEqual(response.status, 426)
        self.assertEqual(response.header('sec-websocket-version'), '13')
        self.assertEqual(self.json_get('/calls'), before + 1)  # only the /calls itself

    def test_app_raising_after_accept_closes_1011(self):
        client = self.ws('/fail')
        client.send(u'boom')
        kind, (code, reason) = client.recv()
        self.assertEqual((kind, code), ('close', 1011))
        client.close(1011)
        self.assertTrue(client.is_closed())
        deadline = time.time() + WAIT
        while 'closing it with 1011' not in self.server.output() and time.time() < deadline:
            time.sleep(0.02)
        self.assertIn('closing it with 1011', self.server.output())
        self.assertIn('RuntimeError: the app failed after accepting', self.server.output())

    def test_send_from_another_thread_while_receiving(self):
        client = self.ws('/ticker')
        ticks = [client.recv_data() for _ in range(5)]
        self.assertEqual(ticks, [u'tick %d' % n for n in range(5)])
        client.send(u'hi')
        self.assertEqual(client.recv_data(), u'got hi')
        client.close_handshake()

    def test_generator_app(self):
        client = self.ws('/generator')
        self.assertEqual(client.recv_data(), u'from a generator')
        client.send(b'bytes')
        self.assertEqual(client.recv_data(), b'bytes')
        client.close_handshake()

    def steady_thread_count(self):
        """The thread count once WebSockets of earlier tests have wound down."""
        deadline = time.time() + WAIT
        readings = [self.thread_count()]
        while time.time() < deadline:
            time.sleep(0.1)
            readings.append(self.thread_count())
            if len(set(readings[-5:])) == 1 and len(readings) >= 5:
                break
        return readings[-1]

    def test_threads_retire_when_websockets_end(self):
        baseline = self.steady_thread_count()
        clients = [self.ws('/echo') for _ in range(3)]
        for client in clients:  # each app is running now
            client.send(u'x')
            client.recv_data()
        self.assertEqual(self.thread_count(), baseline + 3)
        for client in clients:
            client.close_handshake()
        self.wait_for_threads(baseline)


@unittest.skipUnless(library_available(), 'libportico.so not built')
class ThreadUseTest(unittest.TestCase):

    def start(self, *args):
        server = ServerProcess(app='wsapps:app', args=args)
        self.addCleanup(server.stop)
        return server

    def open(self, server, path, count):
        clients = []
        for _ in range(count):
            client = WebSocketClient.connect(server.port, path)
            self.addCleanup(client.shutdown)
            clients.append(client)
        return clients

    def plain_get(self, server):
        conversation = Conversation(server.port)
        self.addCleanup(conversation.close)
        started = time.time()
        conversation.send(request_bytes('GET', '/plain'))
        response = conversation.read_response()
        return response, time.time() - started

    def test_open_websockets_do_not_starve_plain_requests(self):
        server = self.start('--threads', '2')
        clients = self.open(server, '/echo', 12)
        for number, client in enumerate(clients):
            client.send(u'n%d' % number)
        for number, client in enumerate(clients):
            self.assertEqual(client.recv_data(), u'n%d' % number)
        for _ in range(5):
            response, took = self.plain_get(server)
            self.assertEqual(response.body, b'plain\n')
            self.assertLess(took, 2.0)
        for client in clients:
            client.close_handshake()

    def test_one_thread_is_enough(self):
        server = self.start('--threads', '1')
        clients = self.open(server, '/hold', 3)
        response, took = self.plain_get(server)
        self.assertEqual(response.body, b'plain\n')
        self.assertLess(took, 2.0)
        for client in clients:
            client.close_handshake()

    def test_max_websockets(self):
        server = self.start('--threads', '2', '--max-websockets', '2')
        clients = self.open(server, '/hold', 2)
        with self.assertRaises(HandshakeFailed) as caught:
            WebSocketClient.connect(server.port, '/hold')
        self.assertEqual(caught.exception.response.status, 503)
        self.assertIn(b'--max-websockets', caught.exception.response.body)
        clients[0].close_handshake()
        deadline = time.time() + WAIT
        while True:  # the slot frees once the app's call is over
            try:
                client = WebSocketClient.connect(server.port, '/hold')
                break
            except HandshakeFailed:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.addCleanup(client.shutdown)
        client.close_handshake()


@unittest.skipUnless(library_available(), 'libportico.so not built')
class WebSocketShutdownTest(unittest.TestCase):

    def start(self):
        server = ServerProcess(app='wsapps:app', args=('--threads', '2',
                                                       '--graceful-timeout', '10'))
        self.addCleanup(server.stop)
        return server

    def test_sigterm_closes_with_1001_and_exits_0(self):
        server = self.start()
        client = WebSocketClient.connect(server.port, '/echo')
        self.addCleanup(client.shutdown)
        client.send(u'hi')
        self.assertEqual(client.recv_data(), u'hi')
        started = time.time()
        server.signal(signal.SIGTERM)
        kind, (code, reason) = client.recv()
        self.assertEqual((kind, code), ('close', 1001))
        client.close(1001)
        self.assertTrue(client.is_closed())
        self.assertEqual(server.wait(), 0, server.output())
        self.assertLess(time.time() - started, 5)

    def test_sigterm_with_a_silent_client(self):
        server = self.start()
        client = WebSocketClient.connect(server.port, '/hold')
        self.addCleanup(client.shutdown)
        time.sleep(0.2)
        server.signal(signal.SIGTERM)
        self.assertEqual(client.recv()[1][0], 1001)
        # The client never answers: the server gives up on it and exits 0.
        self.assertEqual(server.wait(), 0, server.output())


if __name__ == '__main__':
    unittest.main()
