"""ASGI 3 apps on Portico: `portico serve --interface asgi|auto` as a user runs
it, checked with real clients: raw sockets and http.client (any Python
3.8+), httpx with HTTP/2, websockets, nghttp and node's http2 module where
installed (Debian's python3 has them). Every server is a subprocess stopped
by its PID; every wait is bounded."""

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(HERE))
BINDINGS = os.path.join(CHECKOUT, 'bindings', 'python')
BANNER = re.compile(r'portico: serving \S+ on http://([\d.]+):(\d+)\S* .*\(asgi')
TIMEOUT = 10.0

try:
    import httpx
    import h2  # noqa: F401 (httpx needs it for HTTP/2)
except ImportError:
    httpx = None
try:
    import websockets
    import websockets.exceptions
except ImportError:
    websockets = None
try:
    import starlette  # noqa: F401
except ImportError:
    starlette = None
NODE = shutil.which('node')
NGHTTP = shutil.which('nghttp')


def needs(modules):
    """The skip reason for a test whose third-party modules are absent. Only
    Debian's python3 has them (PyPI is out of reach), so on another interpreter
    the test does not apply; on Debian's they are missing (a failure in CI)."""
    if os.path.realpath(sys.executable).startswith('/usr/bin/'):
        return 'missing ' + modules + ' (scripts/deps.sh test installs them)'
    return 'n/a: needs ' + modules + ", which only Debian's python3 has"



def env():
    e = dict(os.environ)
    e['PYTHONPATH'] = os.pathsep.join([BINDINGS, HERE] + [p for p in e.get('PYTHONPATH', '').split(os.pathsep) if p])
    e['PYTHONUNBUFFERED'] = '1'
    return e


class Server:
    def __init__(self, app, *args):
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'portico', 'serve', app, '--bind', 'http://127.0.0.1:0'] + list(args),
            cwd=HERE, env=env(), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            match = BANNER.search(self.output())
            if match:
                self.host, self.port = match.group(1), int(match.group(2))
                self.url = 'http://%s:%d' % (self.host, self.port)
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        output = self.output()
        self.stop()
        raise AssertionError('server did not start:\n' + output)

    def output(self):
        # A file description of our own: seeking the server's would move
        # its offset too, and its next line would overwrite the log's start.
        with open('/proc/self/fd/%d' % self.log.fileno(), 'rb') as log:
            return log.read().decode('utf-8', 'replace')

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __del__(self):
        self.log.close()


def run_cli(*args, timeout=20):
    """Run `portico serve ...` to its end: (exit code, output)."""
    p = subprocess.run([sys.executable, '-m', 'portico', 'serve'] + list(args), cwd=HERE, env=env(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode('utf-8', 'replace')


def raw(port, data, until=None, close_after=None):
    """Send DATA on a fresh connection and read until UNTIL (bytes) is seen or the peer closes."""
    s = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
    try:
        s.sendall(data)
        got = b''
        while until is None or until not in got:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got
    finally:
        s.close()


def wait_for_event(server, wanted, timeout=10):
    deadline = time.time() + timeout
    events = []
    while time.time() < deadline:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
        conn.request('GET', '/events')
        events = json.loads(conn.getresponse().read())
        conn.close()
        if wanted in events:
            return events
        time.sleep(0.05)
    raise AssertionError('%r not among the events %r' % (wanted, events))


class RawAppTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # --interface auto: detected as ASGI.
        cls.server = Server('rawapp:app', '--graceful-timeout', '3')

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        output = cls.server.output()
        assert code == 0, output
        assert 'lifespan shutdown ran' in output, output

    def get(self, path, method='GET', body=None, headers=None):
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=TIMEOUT)
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response, data

    def test_http11_scope(self):
        response, data = self.get('/info%20x?a=1&b=%C3%A9', headers={'X-Custom': 'Value'})
        self.assertEqual(response.status, 200)
        info = json.loads(data)
        self.assertEqual(info['http_version'], '1.1')
        self.assertEqual(info['path'], '/info x')
        self.assertEqual(info['raw_path'], '/info%20x')
        self.assertEqual(info['query'], 'a=1&b=%C3%A9')
        self.assertEqual(info['scheme'], 'http')
        self.assertEqual(info['asgi'], {'version': '3.0', 'spec_version': '2.4'})
        self.assertIn(['x-custom', 'Value'], info['headers'])  # names lower-case
        self.assertEqual(info['client'][0], '127.0.0.1')
        self.assertEqual(info['server'], ['127.0.0.1', self.server.port])
        self.assertEqual(info['state'], 'from lifespan')
        # HTTP/1.1 without TE: trailers: early hints only; no push, no TLS.
        self.assertEqual(info['extensions'], ['http.response.early_hint'])

    def test_http11_trailers_extension_with_te(self):
        response, data = self.get('/info', headers={'TE': 'trailers'})
        self.assertIn('http.response.trailers', json.loads(data)['extensions'])

    def test_request_and_response_stream_both_ways(self):
        # Each chunk of the request comes back before the next is sent: both
        # bodies stream, neither is buffered whole.
        s = socket.create_connection(('127.0.0.1', self.server.port), timeout=TIMEOUT)
        try:
            s.sendall(b'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')
            got = b''
            for word in (b'alpha', b'bravo', b'charlie'):
                s.sendall(b'%x\r\n%s\r\n' % (len(word), word))
                while word not in got:
                    chunk = s.recv(4096)
                    self.assertTrue(chunk, 'closed early: %r' % got)
                    got += chunk
            s.sendall(b'0\r\n\r\n')
            while not got.endswith(b'0\r\n\r\n'):
                chunk = s.recv(4096)
                self.assertTrue(chunk)
                got += chunk
        finally:
            s.close()
        self.assertTrue(got.startswith(b'HTTP/1.1 200 OK\r\n'), got)
        self.assertIn(b'Transfer-Encoding: chunked', got)

    def test_large_body_arrives_in_several_messages(self):
        body = os.urandom(3000000)
        response, data = self.get('/info', 'POST', body)
        info = json.loads(data)
        self.assertEqual(info['body_length'], 3000000)
        self.assertGreater(info['body_messages'], 1)

    def test_streaming_response(self):
        response, data = self.get('/stream')
        self.assertEqual(response.getheader('Transfer-Encoding'), 'chunked')
        self.assertEqual(data.decode().splitlines(), ['chunk %d' % i for i in range(10)])

    def test_big_response_to_a_slow_reader(self):
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=TIMEOUT)
        conn.request('GET', '/big')
        response = conn.getresponse()
        total = 0
        while True:
            chunk = response.read(1 << 20)
            if not chunk:
                break
            total += len(chunk)
            time.sleep(0.01)
        conn.close()
        self.assertEqual(total, 128 * 65536)
        # Meanwhile the loop kept serving others.
        self.assertEqual(self.get('/info')[0].status, 200)

    def test_disconnect_during_the_response(self):
        s = socket.create_connection(('127.0.0.1', self.server.port), timeout=TIMEOUT)
        s.sendall(b'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n')
        self.assertIn(b'tick', s.recv(4096))
        s.close()
        wait_for_event(self.server, ['slow', 'http.disconnect'])

    def test_disconnect_during_the_request_body(self):
        s = socket.create_connection(('127.0.0.1', self.server.port), timeout=TIMEOUT)
        s.sendall(b'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n' + b'x' * 70000)
        time.sleep(0.2)
        s.close()
        wait_for_event(self.server, ['upload', 'http.disconnect'])

    def test_app_errors_answer_500(self):
        self.assertEqual(self.get('/crash')[0].status, 500)
        self.assertEqual(self.get('/noresponse')[0].status, 500)
        self.assertIn('ValueError: boom', self.server.output())
        # A NUL would split the head the library parses: refused, 500.
        self.assertEqual(self.get('/nul')[0].status, 500)
        self.assertIn("ValueError: NUL in header b'x-split'", self.server.output())
        # A CR LF reaches the library, which refuses the head: 500, logged.
        response, data = self.get('/crlf')
        self.assertEqual((response.status, response.getheader('x-injected'), data), (500, None, b''))
        deadline = time.time() + 10  # logged after the answer went out
        while 'refused the response head' not in self.server.output() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn('refused the response head', self.server.output())

    def test_early_hint_over_http11(self):
        got = raw(self.server.port, b'GET /hint HTTP/1.1\r\nHost: x\r\n\r\n', until=b'"hinted"')
        self.assertTrue(got.startswith(b'HTTP/1.1 103 Early Hints\r\n'), got)
        self.assertIn(b'link: </style.css>; rel=preload; as=style\r\n', got)
        self.assertIn(b'HTTP/1.1 200 OK\r\n', got)

    def test_trailers_over_http11(self):
        got = raw(self.server.port, b'GET /trailers HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n',
                  until=b'abc123\r\n\r\n')
        self.assertTrue(got.endswith(b'0\r\nx-checksum: abc123\r\n\r\n'), got)
        # Without TE: trailers the extension is absent and nothing trails.
        got = raw(self.server.port, b'GET /trailers HTTP/1.1\r\nHost: x\r\n\r\n', until=b'trailers\n')
        self.assertNotIn(b'abc123', got)

    @unittest.skipUnless(httpx, needs('httpx and h2'))
    def test_h2c_scope_and_bodies(self):
        with httpx.Client(http1=False, http2=True, timeout=TIMEOUT) as client:
            response = client.get(self.server.url + '/info')
            info = response.json()
            self.assertEqual(response.http_version, 'HTTP/2')
            self.assertEqual(info['http_version'], '2')
            # httpx turns push off: no push key; trailers come with HTTP/2.
            self.assertEqual(info['extensions'], ['http.response.early_hint', 'http.response.trailers'])
            upload = os.urandom(2500000)
            info = client.post(self.server.url + '/info', content=upload).json()
            self.assertEqual(info['body_length'], len(upload))
            self.assertGreater(info['body_messages'], 1)
            # Small: httpx sends its whole body before it reads, and flow
            # control holds an echo of more than the windows.
            echoed = client.post(self.server.url + '/echo', content=upload[:20000]).content
            self.assertEqual(echoed, upload[:20000])
            self.assertEqual(len(client.get(self.server.url + '/big').content), 128 * 65536)
            lines = client.get(self.server.url + '/stream').text.splitlines()
            self.assertEqual(lines, ['chunk %d' % i for i in range(10)])

    @unittest.skipUnless(httpx, needs('httpx and h2'))
    def test_stream_reset_is_a_disconnect_over_h2c(self):
        import h2.connection
        import h2.config
        import h2.events
        s = socket.create_connection(('127.0.0.1', self.server.port), timeout=TIMEOUT)
        try:
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
            conn.initiate_connection()
            conn.send_headers(1, [(':method', 'GET'), (':path', '/waitgone'), (':scheme', 'http'),
                                  (':authority', 'x')], end_stream=True)
            s.sendall(conn.data_to_send())
            got = False
            while not got:
                data = s.recv(65536)
                self.assertTrue(data)
                got = any(isinstance(e, h2.events.DataReceived) for e in conn.receive_data(data))
                s.sendall(conn.data_to_send())
            conn.reset_stream(1)
            s.sendall(conn.data_to_send())
            # The app sits in receive() with nothing to write: only the
            # reset can tell it.
            wait_for_event(self.server, ['waitgone', 'http.disconnect'])
        finally:
            s.close()

    @unittest.skipUnless(NGHTTP, 'needs nghttp')
    def test_push_over_h2c(self):
        out = subprocess.run([NGHTTP, '-nv', self.server.url + '/push'], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=TIMEOUT).stdout.decode()
        self.assertIn('PUSH_PROMISE', out)
        self.assertIn(':path: /pushed.css', out)
        out = subprocess.run([NGHTTP, '-nv', self.server.url + '/info'], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=TIMEOUT).stdout.decode()
        self.assertNotIn('PUSH_PROMISE', out)

    @unittest.skipUnless(NGHTTP, 'needs nghttp')
    def test_trailers_and_early_hint_over_h2c(self):
        out = subprocess.run([NGHTTP, '-v', self.server.url + '/trailers'], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=TIMEOUT).stdout.decode()
        self.assertIn('x-checksum: abc123', out)
        out = subprocess.run([NGHTTP, '-v', self.server.url + '/hint'], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=TIMEOUT).stdout.decode()
        self.assertIn(':status: 103', out)

    @unittest.skipUnless(websockets, needs('websockets'))
    def test_websocket_over_http11(self):
        async def session():
            uri = 'ws://127.0.0.1:%d/ws' % self.server.port
            async with websockets.connect(uri, subprotocols=['other', 'chat'], max_size=None) as ws:
                self.assertEqual(ws.subprotocol, 'chat')
                self.assertEqual(ws.response_headers['x-asgi'], 'yes')
                self.assertEqual(await ws.recv(), 'hello 1.1 websocket.http.response')
                await ws.send('text é')
                self.assertEqual(await ws.recv(), 'text é')
                await ws.send(b'\x00\x01binary')
                self.assertEqual(await ws.recv(), b'\x00\x01binary')
                big = os.urandom(3 << 20)  # past the poll buffer: it grows
                await ws.send(big)
                self.assertEqual(await ws.recv(), big)
                await ws.send('close:4001')
                with self.assertRaises(websockets.exceptions.ConnectionClosed) as caught:
                    await ws.recv()
                self.assertEqual(caught.exception.code, 4001)
                self.assertEqual(caught.exception.reason, 'asked to')
            async with websockets.connect(uri) as ws:
                await ws.recv()
                await ws.close(4002, 'client leaves')
        asyncio.run(asyncio.wait_for(session(), TIMEOUT))
        events = wait_for_event(self.server, ['ws', 4002])
        self.assertIn(['ws-after-close', 'websocket.disconnect'], events)

    @unittest.skipUnless(websockets, needs('websockets'))
    def test_websocket_denial_response(self):
        async def attempt(path):
            try:
                async with websockets.connect('ws://127.0.0.1:%d%s' % (self.server.port, path)):
                    pass
            except websockets.exceptions.InvalidStatusCode as exc:
                return exc.status_code
        self.assertEqual(asyncio.run(asyncio.wait_for(attempt('/deny'), TIMEOUT)), 401)
        self.assertEqual(asyncio.run(asyncio.wait_for(attempt('/reject'), TIMEOUT)), 403)

    def test_websocket_denial_response_raw(self):
        got = raw(self.server.port, b'GET /deny HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'
                  b'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
                  b'Sec-WebSocket-Version: 13\r\n\r\n', until=b'no entry')
        self.assertTrue(got.startswith(b'HTTP/1.1 401 Unauthorized\r\n'), got)
        self.assertIn(b'www-authenticate: Token\r\n', got)

    @unittest.skipUnless(NODE, 'needs node')
    def test_websocket_over_h2c(self):
        out = subprocess.run([NODE, os.path.join(HERE, 'ws_h2.js'), self.server.url, '/ws'],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=15).stdout.decode()
        self.assertEqual(out.splitlines(), [
            'status 200 protocol chat x-asgi yes',
            'message hello 2 websocket.http.response',
            'message ping over h2',
            'close 4001 asked to'])
        out = subprocess.run([NODE, os.path.join(HERE, 'ws_h2.js'), self.server.url, '/deny'],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=15).stdout.decode()
        self.assertEqual(out.splitlines()[0], 'status 401 protocol undefined x-asgi undefined')


@unittest.skipUnless(httpx, needs('httpx and h2'))
@unittest.skipUnless(shutil.which('openssl'), 'needs openssl')
class TLSTests(unittest.TestCase):
    def test_tls_extension_and_h2_over_alpn(self):
        tmp = tempfile.mkdtemp()
        cert, key = os.path.join(tmp, 'cert.pem'), os.path.join(tmp, 'key.pem')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                        '-nodes', '-days', '1', '-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=30)
        server = Server('rawapp:app', '--certfile', cert, '--keyfile', key, '--bind', 'https://127.0.0.1:0')
        try:
            port = int(re.search(r'https://127\.0\.0\.1:(\d+)', server.output()).group(1))
            for http2 in (False, True):
                with httpx.Client(http1=not http2, http2=http2, verify=False, timeout=TIMEOUT) as client:
                    info = client.get('https://127.0.0.1:%d/info' % port).json()
                self.assertEqual(info['scheme'], 'https')
                self.assertEqual(info['http_version'], '2' if http2 else '1.1')
                self.assertIn('tls', info['extensions'])
                self.assertIn(info['tls_version'], (0x0303, 0x0304))  # TLS 1.2 or 1.3, as a number
            # The plaintext listener of the same server has no tls key.
            with httpx.Client(timeout=TIMEOUT) as client:
                self.assertNotIn('tls', client.get(server.url + '/info').json()['extensions'])
        finally:
            self.assertEqual(server.stop(), 0)
            shutil.rmtree(tmp)


def make_certificate(directory):
    cert, key = os.path.join(directory, 'cert.pem'), os.path.join(directory, 'key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                    '-nodes', '-days', '1', '-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1'],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=30)
    return cert, key


@unittest.skipUnless(shutil.which('openssl'), 'needs openssl')
class ClientLeavesTests(unittest.TestCase):
    """A client that closes its connection in the middle of a streamed
    response (server-sent events): an app waiting in receive() gets
    http.disconnect, and its next send() raises ClientDisconnected (an
    OSError, ASGI 2.4), on HTTP/1.1 in cleartext (the inline loop) and over
    TLS (the goroutine path), h2c and h2 over TLS. The app records when;
    each should take well under a second (bound: 5 s)."""

    BOUND = 5.0

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cert, key = make_certificate(cls.tmp)
        cls.server = Server('rawapp:app', '--certfile', cert, '--keyfile', key,
                            '--bind', 'https://127.0.0.1:0')
        cls.tls_port = int(re.search(r'https://127\.0\.0\.1:(\d+)', cls.server.output()).group(1))

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0, cls.server.output()
        shutil.rmtree(cls.tmp)

    def connect(self, tls, alpn):
        s = socket.create_connection(('127.0.0.1', self.tls_port if tls else self.server.port), timeout=TIMEOUT)
        if not tls:
            return s
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols([alpn])
        s = context.wrap_socket(s)
        self.assertEqual(s.selected_alpn_protocol(), alpn)
        return s

    def open_http11(self, tls, path):
        s = self.connect(tls, 'http/1.1')
        s.sendall(b'GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % path.encode())
        got = b''
        while b'data: 0' not in got:
            chunk = s.recv(65536)
            self.assertTrue(chunk, got)
            got += chunk
        return s

    def open_h2(self, tls, path):
        import h2.config
        import h2.connection
        import h2.events
        s = self.connect(tls, 'h2')
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        conn.send_headers(1, [(':method', 'GET'), (':path', path), (':scheme', 'https' if tls else 'http'),
                              (':authority', 'x')], end_stream=True)
        s.sendall(conn.data_to_send())
        while True:
            data = s.recv(65536)
            self.assertTrue(data)
            got = any(isinstance(e, h2.events.DataReceived) for e in conn.receive_data(data))
            s.sendall(conn.data_to_send())
            if got:
                return s

    def leave(self, protocol, hold, wanted):
        """Opens /sse, reads its first event and closes: what the app
        recorded, by kind, in seconds after the close."""
        token = os.urandom(8).hex()
        path = '/sse?token=%s%s' % (token, '&hold=1' if hold else '')
        tls = protocol.endswith('tls')
        s = (self.open_h2 if protocol.startswith('h2') else self.open_http11)(tls, path)
        closed = time.time()
        s.close()
        seen = {}
        while time.time() < closed + self.BOUND and not set(wanted) <= set(seen):
            conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=TIMEOUT)
            conn.request('GET', '/events')
            seen = {e[2]: round(e[3] - closed, 3) for e in json.loads(conn.getresponse().read())
                    if e[0] == 'sse' and e[1] == token}
            conn.close()
            time.sleep(0.02)
        sys.stderr.write('[%s%s: %s] ' % (protocol, ' hold' if hold else '', seen))
        self.assertEqual(sorted(seen), sorted(wanted), 'after %.1f s' % self.BOUND)
        return seen

    def check(self, protocol):
        self.leave(protocol, True, ['http.disconnect'])
        self.leave(protocol, False, ['http.disconnect', 'send raised ClientDisconnected'])

    def test_http11_inline(self):
        self.check('h1')

    def test_http11_over_tls(self):
        self.check('h1-tls')

    @unittest.skipUnless(httpx, needs('httpx and h2'))
    def test_h2c(self):
        self.check('h2c')

    @unittest.skipUnless(httpx, needs('httpx and h2'))
    def test_h2_over_tls(self):
        self.check('h2-tls')


class FramingTests(unittest.TestCase):
    """HTTP/1.1 framing edges (issue 17) as an ASGI app sees them, and the
    server's own answers in its logs."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server('rawapp:app', '--access-log', '--header-timeout', '60')

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def info(self, data):
        got = raw(self.server.port, data + b'Connection: close\r\n\r\n')
        head, _, body = got.partition(b'\r\n\r\n')
        self.assertTrue(head.startswith(b'HTTP/1.1 200 '), got)
        return json.loads(body)

    def test_one_content_length_and_the_target_authority(self):
        for data in (b'POST /info HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n',
                     b'POST /info HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n'):
            got = raw(self.server.port, data + b'Connection: close\r\n\r\nhello')
            info = json.loads(got.partition(b'\r\n\r\n')[2])
            self.assertEqual([v for n, v in info['headers'] if n == 'content-length'], ['5'], data)
            self.assertEqual(info['body_length'], 5)
        info = self.info(b'GET http://example.test/info?q=1 HTTP/1.1\r\nHost: other\r\n')
        self.assertEqual([v for n, v in info['headers'] if n == 'host'], ['example.test'])
        self.assertEqual((info['path'], info['query']), ('/info', 'q=1'))
        info = self.info(b'\r\n\r\nGET /info HTTP/1.1\r\nHost: h\r\n')
        self.assertEqual(info['path'], '/info')

    def test_refusals_answered_and_logged(self):
        cases = [(b'GET /lower http/1.1\r\nHost: h\r\n\r\n', 400, 'GET /lower http/1.1'),
                 (b'GET /nine\r\n\r\n', 400, 'GET /nine'),
                 (b'GET /two HTTP/2.0\r\nHost: h\r\n\r\n', 505, 'GET /two HTTP/2.0'),
                 (b'GET /lf HTTP/1.1\nHost: h\n\n', 400, 'GET /lf HTTP/1.1'),
                 (b'POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', 400,
                  'POST /p HTTP/1.1')]
        for data, status, line in cases:
            started = time.time()
            got = raw(self.server.port, data)  # read until the server closes
            self.assertTrue(got.startswith(b'HTTP/1.1 %d ' % status), got)
            self.assertLess(time.time() - started, 20)
        for _, status, line in cases:
            for pattern in (r'^\[portico\] 127\.0\.0\.1 - "%s" %d$', r'^\[portico\] 127\.0\.0\.1 "%s": the server '
                            r'answered %d itself: \w'):
                pattern = re.compile(pattern % (re.escape(line), status), re.M)
                deadline = time.time() + 10
                while not pattern.search(self.server.output()) and time.time() < deadline:
                    time.sleep(0.05)
                self.assertRegex(self.server.output(), pattern)


class ContentLengthMismatchTests(unittest.TestCase):
    def test_cut_and_logged(self):
        """A body that disagrees with its Content-Length: the declared bytes
        at most, then the connection closes; an error line with the numbers."""
        server = Server('rawapp:app', '--access-log')
        try:
            for query, wire, gave, how in (('cl=3&n=19', b'xxx', 19, 'cut at the declared length'),
                                           ('cl=3&n=19&chunks=1', b'xxx', 4, 'cut at the declared length'),
                                           ('cl=30&n=6', b'xxxxxx', 6, 'cut short')):
                got = raw(server.port, b'GET /wronglen?%s HTTP/1.1\r\nHost: h\r\n\r\n' % query.encode())
                self.assertTrue(got.startswith(b'HTTP/1.1 200 '), got)
                self.assertEqual(got.partition(b'\r\n\r\n')[2], wire, query)
                pattern = re.compile(r'^\[portico\] GET /wronglen: the response body disagrees with its '
                                     r'Content-Length: declared %d, the app gave %d \(%s\)$'
                                     % (30 if 'cl=30' in query else 3, gave, how), re.M)
                deadline = time.time() + 10
                while not pattern.search(server.output()) and time.time() < deadline:
                    time.sleep(0.05)
                self.assertRegex(server.output(), pattern)
        finally:
            server.stop()


class RequestTimeoutLogTests(unittest.TestCase):
    def test_request_timeout_logged_as_503(self):
        """The app answers 200 after the request timeout answered 503: the
        access line says 503, an error line says why (issue 17)."""
        server = Server('rawapp:app', '--access-log', '--request-timeout', '1')
        try:
            for path in ('/nap?s=2', '/nap?s=2.1'):
                got = raw(server.port, b'GET %s HTTP/1.1\r\nHost: h\r\n\r\n' % path.encode())
                self.assertTrue(got.startswith(b'HTTP/1.1 503 '), got)
            for pattern in (r'^\[portico\] 127\.0\.0\.1 - "GET /nap 1\.1" 503$',
                            r'^\[portico\] GET /nap: the server answered 503 itself: request timeout$'):
                pattern = re.compile(pattern, re.M)
                deadline = time.time() + 10
                while len(pattern.findall(server.output())) < 2 and time.time() < deadline:
                    time.sleep(0.05)
                self.assertEqual(len(pattern.findall(server.output())), 2, server.output())
            self.assertNotIn('" 200', server.output())
        finally:
            server.stop()


class BodyTimeoutTests(unittest.TestCase):
    def test_stalled_body_ends_with_408_and_a_log_line(self):
        """The app reads a body that stops: the library answers 408, the app
        gets http.disconnect, and a line says why (issue 17)."""
        server = Server('rawapp:app', '--body-timeout', '1', '--min-body-rate', '0')
        try:
            started = time.time()
            got = raw(server.port, b'POST /nap?s=0 HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n' +
                      b'x' * 70000)  # past prefetch_size: the app has it, then the body stops
            self.assertTrue(got.startswith(b'HTTP/1.1 408 '), got)
            self.assertLess(time.time() - started, 8)
            pattern = re.compile(r'POST /nap: the server answered - itself: the request body stopped arriving')
            deadline = time.time() + 10
            while not pattern.search(server.output()) and time.time() < deadline:
                time.sleep(0.05)
            self.assertRegex(server.output(), pattern)
        finally:
            server.stop()


class LifespanTests(unittest.TestCase):
    def test_startup_failure_stops_the_server(self):
        code, output = run_cli('failapp:app', '--bind', '127.0.0.1:0')
        self.assertNotEqual(code, 0)
        self.assertIn('application startup failed: database unreachable', output)
        self.assertNotIn('serving', output)

    def test_app_without_lifespan_is_served_in_auto_mode(self):
        server = Server('failapp:raising', '--interface', 'asgi')
        try:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
            conn.request('GET', '/')
            self.assertEqual(conn.getresponse().read(), b'served without lifespan')
            conn.close()
        finally:
            self.assertEqual(server.stop(), 0)

    def test_raising_startup_is_fatal_with_lifespan_on(self):
        code, output = run_cli('failapp:raising', '--lifespan', 'on', '--bind', '127.0.0.1:0')
        self.assertNotEqual(code, 0)
        self.assertIn('application startup failed', output)
        self.assertIn('cannot start', output)


@unittest.skipUnless(starlette and httpx and websockets, needs('starlette, httpx and websockets'))
class StarletteTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server('starapp:app')  # auto: a Starlette instance is ASGI

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0, cls.server.output()

    def test_routes_over_http11_and_h2c(self):
        for http2 in (False, True):
            with httpx.Client(http1=not http2, http2=http2, timeout=TIMEOUT) as client:
                info = client.get(self.server.url + '/?q=portico').json()
                self.assertEqual(info, {'http_version': '2' if http2 else '1.1', 'state': 'started',
                                        'query': 'portico'})
                upload = os.urandom(2000000)
                self.assertEqual(client.post(self.server.url + '/upload', content=upload).json()['size'],
                                 len(upload))
                response = client.get(self.server.url + '/numbers')
                self.assertEqual(response.text, ''.join('line %d\n' % i for i in range(5)))
                response = client.post(self.server.url + '/form', json={'name': 'world'})
                self.assertEqual(response.text, 'hello world')

    def test_streamed_upload_arrives_in_chunks(self):
        def body():
            for _ in range(20):
                yield b'y' * 50000
        with httpx.Client(timeout=TIMEOUT) as client:
            result = client.post(self.server.url + '/upload', content=body()).json()
        self.assertEqual(result['size'], 1000000)
        self.assertGreater(result['chunks'], 1)

    def test_websocket(self):
        async def session():
            uri = 'ws://127.0.0.1:%d/ws' % self.server.port
            async with websockets.connect(uri, subprotocols=['chat']) as ws:
                self.assertEqual(ws.subprotocol, 'chat')
                await ws.send('hi')
                self.assertEqual(await ws.recv(), 'echo hi')
                await ws.send(b'abc')
                self.assertEqual(await ws.recv(), b'cba')
        asyncio.run(asyncio.wait_for(session(), TIMEOUT))


if __name__ == '__main__':
    unittest.main()
