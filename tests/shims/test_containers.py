"""The gateway app of gwapp.py under real containers, hit with real clients
(curl, python websockets): wsgiref, gunicorn, uWSGI, Apache + mod_wsgi +
mod_http2 through portico.shim.to_wsgi; uvicorn and hypercorn through
portico.shim.to_asgi; Portico itself (to_wsgi passes through).

Run with Debian's python3 (the containers and clients are Debian packages):
    PYTHONPATH=bindings/python python3 -m unittest -v tests/shims/test_containers.py
A container that is not installed fails its test (make test installs them).
Every server listens on 127.0.0.1, on a port picked at run time, and is
stopped by its own PID.
"""

import asyncio
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(HERE))
BINDINGS = os.path.join(CHECKOUT, 'bindings', 'python')
sys.path[:0] = [BINDINGS, HERE]

import websockets  # noqa: E402
from h2ws import H2WebSocket  # noqa: E402

START_TIMEOUT = 30.0
IO_TIMEOUT = 10


def free_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def env():
    environ = dict(os.environ)
    environ['PYTHONPATH'] = os.pathsep.join([BINDINGS, HERE])
    return environ


class Server(object):
    """A server process on PORT; its output goes to a temporary file."""

    def __init__(self, command, port, cwd=HERE):
        self.port = port
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, cwd=cwd, env=env(), stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.process.poll() is not None:
                break
            try:
                socket.create_connection(('127.0.0.1', port), 0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        output = self.output()
        self.stop()
        raise AssertionError('%s did not start:\n%s' % (command[0], output))

    def output(self):
        self.log.seek(0)
        return self.log.read().decode('utf-8', 'replace')

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def curl(url, *args):
    """(status, body) of one curl request."""
    out = subprocess.run(['curl', '-sS', '--max-time', str(IO_TIMEOUT), '-w', '\n%{http_code}']
                         + list(args) + [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=IO_TIMEOUT + 5)
    if out.returncode != 0:
        raise AssertionError('curl %s failed: %s' % (url, out.stderr.decode()))
    body, _, status = out.stdout.rpartition(b'\n')
    return int(status), body


def nghttp(url):
    """nghttp -v's output for URL (h2c prior knowledge; push allowed)."""
    out = subprocess.run(['nghttp', '-v', '-t', str(IO_TIMEOUT), url], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=IO_TIMEOUT + 5)
    return out.stdout.decode('utf-8', 'replace')


def ws_session(url, steps):
    """Run STEPS (('send', msg) | ('recv',) | ('closed',)) on a WebSocket to
    URL with python websockets; returns what each recv/closed step saw."""
    async def run():
        seen = []
        async with websockets.connect(url, subprotocols=['echo'], open_timeout=IO_TIMEOUT,
                                      close_timeout=IO_TIMEOUT) as ws:
            seen.append(('subprotocol', ws.subprotocol))
            for step in steps:
                if step[0] == 'send':
                    await ws.send(step[1])
                elif step[0] == 'recv':
                    seen.append(('message', await asyncio.wait_for(ws.recv(), IO_TIMEOUT)))
                elif step[0] == 'closed':
                    try:
                        message = await asyncio.wait_for(ws.recv(), IO_TIMEOUT)
                        seen.append(('message', message))
                    except websockets.ConnectionClosed as exc:
                        seen.append(('closed', exc.code, exc.reason))
        return seen
    return asyncio.run(run())


def ws_status(url):
    """The HTTP status a WebSocket handshake to URL was refused with (None if accepted)."""
    async def run():
        try:
            async with websockets.connect(url, open_timeout=IO_TIMEOUT):
                return None
        except websockets.InvalidStatusCode as exc:
            return exc.status_code
    return asyncio.run(run())


ECHO_STEPS = [('send', 'hello'), ('recv',), ('send', b'\x00\x01\xff'), ('recv',),
              ('send', 'close'), ('closed',)]


class ContainerCase(object):
    """What every container must show. Subclasses set `base` (http://host:port)."""

    http_version = '1.1'
    websocket = False          # the container offers WebSocket through the shim
    text_frames = True         # ... and tells text from binary
    early_hints = False

    def info(self, *args):
        status, body = curl(self.base + '/info', *args)
        self.assertEqual(status, 200, body)
        return json.loads(body.decode('utf-8'))

    def test_info(self):
        info = self.info()
        self.assertEqual(info['gateway.version'], [1, 0])
        self.assertEqual(info['http_version'], self.http_version)
        self.assertEqual('websocket' in info['extensions'], False)  # not a handshake
        self.assertEqual('http.response.early_hint' in info['extensions'], self.early_hints)
        # No WSGI container offers push or trailers; ASGI servers may.
        self.assertNotIn('http.response.trailers', info['extensions'])
        self.assertNotIn('http.request.trailers', info['extensions'])
        self.assertNotIn('tls', info['extensions'])  # plaintext

    def test_echo(self):
        body = os.urandom(200000)
        with tempfile.NamedTemporaryFile() as f:
            f.write(body)
            f.flush()
            status, got = curl(self.base + '/echo', '--data-binary', '@' + f.name,
                               '-H', 'Content-Type: application/octet-stream')
        self.assertEqual(status, 200)
        self.assertEqual(got, body)

    def test_no_push_over_http11(self):
        self.assertEqual(curl(self.base + '/push'), (200, b'pushed None\n'))

    def test_stream(self):
        self.assertEqual(curl(self.base + '/stream'), (200, b'chunk 0\nchunk 1\nchunk 2\n'))

    def test_websocket(self):
        url = 'ws' + self.base[4:] + '/ws'
        if not self.websocket:  # the app saw no 'websocket' key
            status, _ = curl(self.base + '/ws', '-H', 'Connection: Upgrade', '-H',
                             'Upgrade: websocket', '-H', 'Sec-WebSocket-Version: 13', '-H',
                             'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==')
            self.assertEqual(status, 426)
            return
        seen = ws_session(url, ECHO_STEPS)
        self.assertEqual(seen[0], ('subprotocol', 'echo'))
        self.assertEqual(seen[1], ('message', 'hello' if self.text_frames else b'hello'))
        self.assertEqual(seen[2], ('message', b'\x00\x01\xff'))
        self.assertEqual(seen[3], ('closed', 4001, 'asked to'))
        self.assertEqual(ws_status(url + '?reject'), 403)

    def test_websocket_receive_timeout(self):
        """receive(timeout) times out, the WebSocket stays usable."""
        if not self.websocket:
            return self.skipTest('n/a: no WebSocket in this container')
        seen = ws_session('ws' + self.base[4:] + '/ws?timeout',
                          [('recv',), ('send', b'after'), ('recv',)])
        self.assertEqual(seen[1:], [('message', 'timed out'),  # sent as text everywhere
                                    ('message', b'after')])

    def h2_websocket_echo(self):
        """WebSocket over HTTP/2 (RFC 8441): the app sees '2', text and binary echo."""
        ws = H2WebSocket('127.0.0.1', int(self.base.rsplit(':', 1)[1]), '/ws?version', ['echo'])
        self.assertEqual((ws.status, ws.headers.get('sec-websocket-protocol')), (200, 'echo'))
        self.assertEqual(ws.receive(), 'over HTTP/2')
        ws.send(u'hi')
        self.assertEqual(ws.receive(), 'hi')
        ws.send(b'\x00\x01')
        self.assertEqual(bytes(ws.receive()), b'\x00\x01')
        self.assertEqual(ws.close()[0], 1000)

    def test_websocket_from_a_generator(self):
        if not self.websocket:
            return self.skipTest('n/a: no WebSocket in this container')
        seen = ws_session('ws' + self.base[4:] + '/wsgen', [('recv',), ('send', b'z'), ('recv',)])
        self.assertEqual(seen[1:], [('message', 'from a generator'), ('message', b'z')])

    def test_websocket_client_close(self):
        """The client closes first; the app's loop ends and the shim answers."""
        if not self.websocket:
            return self.skipTest('n/a: no WebSocket in this container')
        url = 'ws' + self.base[4:] + '/ws'
        seen = ws_session(url, [('send', b'x'), ('recv',)])
        self.assertEqual(seen[1], ('message', b'x'))
        # A second session right after: the worker is free again.
        self.assertEqual(ws_session(url, [('send', b'y'), ('recv',)])[1], ('message', b'y'))


class Wsgiref(ContainerCase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from wsgiref.simple_server import make_server, WSGIRequestHandler
        import gwapp

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args):
                pass
        cls.server = make_server('127.0.0.1', 0, gwapp.application, handler_class=Quiet)
        cls.thread = threading.Thread(target=cls.server.serve_forever)
        cls.thread.start()
        cls.base = 'http://127.0.0.1:%d' % cls.server.server_port

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.thread.join(10)
        cls.server.server_close()

    def test_http10(self):
        self.assertEqual(self.info('--http1.0')['http_version'], '1.0')


class Gunicorn(ContainerCase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import gunicorn
        # gunicorn offers wsgi.early_hints from 25 on; Debian 12 has 20.1.
        cls.early_hints = tuple(int(p) for p in gunicorn.__version__.split('.')[:1]) >= (25,)
        port = free_port()
        cls.server = Server([sys.executable, '-m', 'gunicorn', '--bind', '127.0.0.1:%d' % port,
                             '--workers', '1', '--threads', '2', 'gwapp:application'], port)
        cls.base = 'http://127.0.0.1:%d' % port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


class Uwsgi(ContainerCase, unittest.TestCase):
    websocket = True
    text_frames = False  # uwsgi.websocket_recv does not say text or binary

    @classmethod
    def setUpClass(cls):
        port = free_port()
        cls.server = Server(['uwsgi', '--plugin', 'python3', '--http11-socket',
                             '127.0.0.1:%d' % port, '--wsgi-file', 'gwapp.py',
                             '--callable', 'application', '--pythonpath', BINDINGS,
                             '--pythonpath', HERE, '--processes', '1', '--threads', '2',
                             '--enable-threads', '--die-on-term', '--master',
                             '--disable-logging'], port)
        cls.base = 'http://127.0.0.1:%d' % port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


APACHE_CONF = """
ServerRoot "{root}"
Listen 127.0.0.1:{port}
PidFile "{root}/httpd.pid"
ErrorLog "{root}/error.log"
LogLevel warn
DefaultRuntimeDir "{root}"
Mutex file:{root}
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule http2_module {modules}/mod_http2.so
LoadModule wsgi_module {modules}/mod_wsgi.so
ServerName 127.0.0.1
User {user}
Group {group}
Protocols h2c http/1.1
WSGIDaemonProcess gwapp processes=1 threads=4 python-path={root}/lib:{root}/app home={root}/app
WSGIProcessGroup gwapp
WSGIApplicationGroup %{{GLOBAL}}
WSGIScriptAlias / {root}/app/gwapp.py
<Directory {root}/app>
    Require all granted
</Directory>
LoadModule ssl_module {modules}/mod_ssl.so
LoadModule socache_shmcb_module {modules}/mod_socache_shmcb.so
SSLSessionCache shmcb:{root}/ssl_scache(512000)
Listen 127.0.0.1:{tls_port}
<VirtualHost 127.0.0.1:{tls_port}>
    SSLEngine on
    SSLCertificateFile {root}/cert.pem
    SSLCertificateKeyFile {root}/key.pem
    SSLOptions +StdEnvVars
    Protocols h2 http/1.1
</VirtualHost>
"""


class Apache(ContainerCase, unittest.TestCase):
    """Apache httpd with mod_wsgi (daemon mode) and mod_http2 (h2c)."""

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix='portico-apache-')
        # Apache's children run as the current user; as root, Apache refuses
        # that, so they drop to nobody (who must reach the runtime dir).
        if os.getuid() == 0:
            user, group = 'nobody', grp.getgrgid(pwd.getpwnam('nobody').pw_gid).gr_name
            os.chmod(cls.root, 0o755)
        else:
            user = pwd.getpwuid(os.getuid()).pw_name
            group = grp.getgrgid(os.getgid()).gr_name
        # The app and the package are copied in: the checkout may not be
        # readable by Apache's user.
        shutil.copytree(os.path.join(BINDINGS, 'portico'), os.path.join(cls.root, 'lib', 'portico'),
                        ignore=shutil.ignore_patterns('__pycache__'))
        os.mkdir(os.path.join(cls.root, 'app'))
        shutil.copy(os.path.join(HERE, 'gwapp.py'), os.path.join(cls.root, 'app'))
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                        'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj',
                        '/CN=127.0.0.1', '-keyout', os.path.join(cls.root, 'key.pem'),
                        '-out', os.path.join(cls.root, 'cert.pem')],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        port, tls_port = free_port(), free_port()
        conf = os.path.join(cls.root, 'httpd.conf')
        with open(conf, 'w') as f:
            f.write(APACHE_CONF.format(root=cls.root, port=port, tls_port=tls_port,
                                       modules='/usr/lib/apache2/modules',
                                       user=user, group=group))
        # -DFOREGROUND keeps the PID ours; apache2 needs APACHE_* only with
        # Debian's apache2.conf, which this private config does not include.
        cls.server = Server(['/usr/sbin/apache2', '-f', conf, '-DFOREGROUND'], port,
                            cwd=cls.root)
        cls.base = 'http://127.0.0.1:%d' % port
        cls.tls_base = 'https://127.0.0.1:%d' % tls_port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        log = os.path.join(cls.root, 'error.log')
        if os.path.exists(log):
            with open(log) as f:
                text = f.read()
            if 'Traceback' in text:
                print(text)
        shutil.rmtree(cls.root, ignore_errors=True)

    def test_h2c(self):
        """An h2c request (prior knowledge) reaches the app as HTTP/2."""
        info = self.info('--http2-prior-knowledge')
        self.assertEqual(info['http_version'], '2')
        self.assertEqual(info['server_protocol'], 'HTTP/2.0')  # Apache's r->protocol

    def test_tls(self):
        """On https, mod_ssl's variables become the 'tls' extension; h2 by ALPN."""
        status, body = curl(self.tls_base + '/info', '-k', '--http1.1')
        info = json.loads(body.decode('utf-8'))
        self.assertEqual((status, info['http_version']), (200, '1.1'))
        self.assertIn('tls', info['extensions'])
        self.assertTrue(info['tls']['version'].startswith('TLSv1.'), info['tls'])
        self.assertTrue(info['tls']['cipher'])
        self.assertEqual(info['tls']['alpn'], None)
        status, body = curl(self.tls_base + '/info', '-k', '--http2')
        info = json.loads(body.decode('utf-8'))
        self.assertEqual((info['http_version'], info['tls']['alpn']), ('2', 'h2'))

    def test_h2c_echo(self):
        status, body = curl(self.base + '/echo', '--http2-prior-knowledge', '--data-binary',
                            'over h2')
        self.assertEqual((status, body), (200, b'over h2'))


class ASGICase(ContainerCase):
    websocket = True

    def test_disconnect_mid_stream_does_not_hang(self):
        """A second request works after a client gave up mid-body."""
        sock = socket.create_connection(('127.0.0.1', self.port), IO_TIMEOUT)
        sock.sendall(b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc')
        sock.close()
        self.assertEqual(curl(self.base + '/echo', '--data-binary', 'ok'), (200, b'ok'))


class Uvicorn(ASGICase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = port = free_port()
        cls.server = Server([sys.executable, '-m', 'uvicorn', '--host', '127.0.0.1', '--port',
                             str(port), '--no-access-log', 'gwapp:asgi_application'], port)
        cls.base = 'http://127.0.0.1:%d' % port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


class Hypercorn(ASGICase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = port = free_port()
        cls.server = Server([sys.executable, '-m', 'hypercorn', '--bind', '127.0.0.1:%d' % port,
                             'gwapp:asgi_application'], port)
        cls.base = 'http://127.0.0.1:%d' % port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_h2c(self):
        """Over h2c hypercorn offers push (scope extensions), so the app gets it."""
        info = self.info('--http2-prior-knowledge')
        self.assertEqual(info['http_version'], '2')
        self.assertIn('http.response.push', info['extensions'])

    def test_websocket_over_h2(self):
        self.h2_websocket_echo()

    def test_push(self):
        """push() through the shim becomes a PUSH_PROMISE from hypercorn."""
        out = nghttp(self.base + '/push')
        self.assertIn('pushed True', out)
        self.assertIn('recv PUSH_PROMISE', out)
        self.assertIn(':path: /info', out)


class Portico(ContainerCase, unittest.TestCase):
    """On Portico, to_wsgi passes through: the app gets Portico's extensions."""
    websocket = True
    early_hints = True
    spec = 'gwapp:application'

    @classmethod
    def setUpClass(cls):
        port = free_port()
        cls.server = Server([sys.executable, '-m', 'portico', 'serve', cls.spec, '--bind',
                             '127.0.0.1:%d' % port], port)
        cls.base = 'http://127.0.0.1:%d' % port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_h2c(self):
        info = self.info('--http2-prior-knowledge')
        self.assertEqual(info['http_version'], '2')
        self.assertIn('http.request.trailers', info['extensions'])

    def test_websocket_over_h2(self):
        self.h2_websocket_echo()

    def test_push(self):
        out = nghttp(self.base + '/push')
        self.assertIn('pushed True', out)
        self.assertIn('recv PUSH_PROMISE', out)


if __name__ == '__main__':
    unittest.main()
