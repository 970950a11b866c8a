"""portico.shim: to_wsgi's environ (what a WSGI container says becomes the
gateway keys, nothing more), a real wsgiref server through it, the shared
WebSocket semantics, and to_asgi's mapping of ASGI messages (3.6+, driven
in process). The containers themselves: tests/shims."""

from __future__ import print_function

import json
import sys
import threading
import unittest
from wsgiref.simple_server import WSGIRequestHandler, make_server
from wsgiref.util import setup_testing_defaults

import support  # noqa: F401 (puts the binding on sys.path)
from support import httplib

from portico import WebSocketClosed, WebSocketTimeout
from portico.shim import ShimWebSocket, http_version_of, is_websocket_request, to_asgi, to_wsgi

PY3 = sys.version_info[0] >= 3
TEXT = [('Content-Type', 'text/plain')]


def environ_for(**extra):
    environ = {}
    setup_testing_defaults(environ)
    environ.update(extra)
    return environ


def call(app, environ):
    """Call a WSGI APP; (status, headers, body, environ the inner app saw)."""
    seen = {}
    out = {}

    def inner(env, start_response):
        seen.update(env)
        start_response('200 OK', TEXT)
        return [b'ok']

    def start_response(status, headers, exc_info=None):
        out['status'], out['headers'] = status, headers
    body = b''.join(app(inner)(environ, start_response) if app else [])
    return out.get('status'), out.get('headers'), body, seen


class HttpVersion(unittest.TestCase):
    def test_server_protocol(self):
        for protocol, version in [('HTTP/1.0', '1.0'), ('HTTP/1.1', '1.1'), ('HTTP/2.0', '2'),
                                  ('HTTP/2', '2'), ('http/1.1', '1.1'), ('HTTP/3', '3')]:
            self.assertEqual(http_version_of({'SERVER_PROTOCOL': protocol}), version, protocol)

    def test_mod_http2_says_so(self):
        self.assertEqual(http_version_of({'SERVER_PROTOCOL': 'HTTP/1.1', 'HTTP2': 'on'}), '2')

    def test_missing_protocol_is_http10(self):
        self.assertEqual(http_version_of({}), '1.0')


class ToWsgi(unittest.TestCase):
    def test_gateway_keys(self):
        _, _, body, seen = call(to_wsgi, environ_for(SERVER_PROTOCOL='HTTP/1.1'))
        self.assertEqual(body, b'ok')
        self.assertEqual(seen['gateway.version'], (1, 0))
        self.assertEqual(seen['gateway.http_version'], '1.1')
        self.assertEqual(seen['gateway.extensions'], {})
        self.assertNotIn('wsgi.input_terminated', seen)  # not the shim's to promise

    def test_early_hints_only_from_the_container(self):
        def hints(headers):
            pass
        _, _, _, seen = call(to_wsgi, environ_for(SERVER_PROTOCOL='HTTP/1.1',
                                                  **{'wsgi.early_hints': hints}))
        self.assertIs(seen['gateway.extensions']['http.response.early_hint'], hints)
        # HTTP/1.0 has no 1xx responses; a non-callable is no offer.
        _, _, _, seen = call(to_wsgi, environ_for(SERVER_PROTOCOL='HTTP/1.0',
                                                  **{'wsgi.early_hints': hints}))
        self.assertEqual(seen['gateway.extensions'], {})
        _, _, _, seen = call(to_wsgi, environ_for(**{'wsgi.early_hints': True}))
        self.assertEqual(seen['gateway.extensions'], {})

    def test_passes_through_on_a_gateway_server(self):
        extensions = {'http.response.push': object()}
        environ = environ_for(**{'gateway.version': (1, 0), 'gateway.http_version': '2',
                                 'gateway.extensions': extensions, 'SERVER_PROTOCOL': 'HTTP/2.0'})
        _, _, _, seen = call(to_wsgi, environ)
        self.assertIs(seen['gateway.extensions'], extensions)
        self.assertEqual(seen['gateway.http_version'], '2')

    def test_tls_from_mod_ssl_variables(self):
        environ = environ_for(**{'wsgi.url_scheme': 'https', 'HTTPS': 'on',
                                 'SSL_PROTOCOL': 'TLSv1.3', 'SSL_CIPHER': 'TLS_AES_128_GCM_SHA256',
                                 'SSL_TLS_SNI': 'example.org'})
        _, _, _, seen = call(to_wsgi, environ)
        self.assertEqual(seen['gateway.extensions']['tls'],
                         {'version': 'TLSv1.3', 'cipher': 'TLS_AES_128_GCM_SHA256',
                          'server_name': 'example.org', 'alpn': None, 'peer_cert': None,
                          'peer_cert_chain': []})
        environ = environ_for(**{'wsgi.url_scheme': 'https', 'SSL_PROTOCOL': 'TLSv1.2',
                                 'SSL_CLIENT_CERT': 'LEAF', 'SSL_CLIENT_CERT_CHAIN_0': 'CA',
                                 'SSL_CLIENT_CERT_CHAIN_1': 'ROOT', 'HTTP2': 'on'})
        tls = call(to_wsgi, environ)[3]['gateway.extensions']['tls']
        self.assertEqual((tls['peer_cert'], tls['peer_cert_chain'], tls['alpn']),
                         ('LEAF', ['LEAF', 'CA', 'ROOT'], 'h2'))
        _, _, _, seen = call(to_wsgi, environ_for(SSL_PROTOCOL='TLSv1.3'))  # http: no tls
        self.assertNotIn('tls', seen['gateway.extensions'])

    def test_no_websocket_without_a_container_that_has_it(self):
        environ = environ_for(SERVER_PROTOCOL='HTTP/1.1', HTTP_UPGRADE='websocket',
                              HTTP_CONNECTION='Upgrade', HTTP_SEC_WEBSOCKET_VERSION='13',
                              HTTP_SEC_WEBSOCKET_KEY='dGhlIHNhbXBsZSBub25jZQ==')
        self.assertTrue(is_websocket_request(environ))
        _, _, _, seen = call(to_wsgi, environ)
        self.assertNotIn('websocket', seen['gateway.extensions'])

    def test_websocket_request_rules(self):
        good = dict(REQUEST_METHOD='GET', SERVER_PROTOCOL='HTTP/1.1', HTTP_UPGRADE='WebSocket',
                    HTTP_CONNECTION='keep-alive, Upgrade', HTTP_SEC_WEBSOCKET_VERSION='13',
                    HTTP_SEC_WEBSOCKET_KEY='x')
        self.assertTrue(is_websocket_request(good))
        for key, value in [('REQUEST_METHOD', 'POST'), ('SERVER_PROTOCOL', 'HTTP/1.0'),
                           ('HTTP_UPGRADE', 'h2c'), ('HTTP_CONNECTION', 'close'),
                           ('HTTP_SEC_WEBSOCKET_VERSION', '8'), ('HTTP_SEC_WEBSOCKET_KEY', '')]:
            bad = dict(good)
            bad[key] = value
            self.assertFalse(is_websocket_request(bad), key)


def report_app(environ, start_response):
    """A gateway app: what it was told, and the body it was sent, as JSON."""
    length = int(environ.get('CONTENT_LENGTH') or 0)
    body = environ['wsgi.input'].read(length) if length else b''
    data = json.dumps({'http_version': environ['gateway.http_version'],
                       'extensions': sorted(environ['gateway.extensions']),
                       'body': body.decode('latin-1')}).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(data)))])
    return [data]


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class UnderWsgiref(unittest.TestCase):
    """A real wsgiref server (every Python has one), a real HTTP client."""

    def setUp(self):
        self.server = make_server('127.0.0.1', 0, to_wsgi(report_app), handler_class=Quiet)
        self.thread = threading.Thread(target=self.server.serve_forever)
        self.thread.start()

    def tearDown(self):
        self.server.shutdown()
        self.thread.join(10)
        self.server.server_close()

    def test_request(self):
        conn = httplib.HTTPConnection('127.0.0.1', self.server.server_port, timeout=10)
        conn.request('POST', '/x', body=b'payload')
        response = conn.getresponse()
        report = json.loads(response.read().decode('utf-8'))
        conn.close()
        self.assertEqual(response.status, 200)
        self.assertEqual(report, {'http_version': '1.1', 'extensions': [], 'body': 'payload'})


class QueueWebSocket(ShimWebSocket):
    """ShimWebSocket over in-memory lists: the semantics shared by the shims."""

    def __init__(self, incoming):
        ShimWebSocket.__init__(self, None)
        self.incoming = list(incoming)
        self.outgoing = []

    def _recv(self, timeout):
        if not self.incoming:
            return None
        message = self.incoming.pop(0)
        if isinstance(message, tuple):
            raise self._record_close(*message)
        return message

    def _send(self, opcode, payload):
        self.outgoing.append((opcode, payload))

    def _send_close(self, code, reason):
        self.outgoing.append((8, code, reason))


class ShimWebSocketSemantics(unittest.TestCase):
    def test_iteration_and_close(self):
        ws = QueueWebSocket([u'text', b'bin', (4000, u'bye')])
        self.assertEqual(list(ws), [u'text', b'bin'])
        self.assertTrue(ws.closed)
        with self.assertRaises(WebSocketClosed) as caught:
            ws.receive()  # again, on every later call
        self.assertEqual((caught.exception.code, caught.exception.reason), (4000, u'bye'))
        with self.assertRaises(WebSocketClosed):
            ws.send(u'late')
        ws.close()  # harmless once closed
        self.assertEqual(ws.outgoing, [])

    def test_send_types(self):
        ws = QueueWebSocket([])
        ws.send(u'h\xe9')
        ws.send(b'\x00')
        ws.send(bytearray(b'ab'))
        self.assertEqual(ws.outgoing, [(1, u'h\xe9'.encode('utf-8')), (2, b'\x00'), (2, b'ab')])
        self.assertRaises(TypeError, ws.send, 42)
        self.assertRaises(ValueError, ws.ping, b'x' * 126)

    def test_timeout(self):
        ws = QueueWebSocket([])
        self.assertRaises(WebSocketTimeout, ws.receive, 0.01)
        self.assertFalse(ws.closed)
        self.assertRaises(ValueError, ws.receive, -1)

    def test_close_codes(self):
        ws = QueueWebSocket([])
        self.assertRaises(ValueError, ws.close, 1005)  # reserved: never sent
        self.assertRaises(ValueError, ws.close, 999)
        ws.close(4001, u'done')
        self.assertEqual(ws.outgoing, [(8, 4001, u'done')])
        self.assertEqual((ws.close_code, ws.close_reason), (4001, u'done'))

    def test_context_manager_closes_1011_on_error(self):
        ws = QueueWebSocket([])
        try:
            with ws:
                raise KeyError('boom')
        except KeyError:
            pass
        self.assertEqual(ws.outgoing, [(8, 1011, '')])

    def test_release(self):
        ws = QueueWebSocket([])
        ws.release(failed=False)
        self.assertEqual(ws.outgoing, [(8, 1000, '')])


if PY3:
    from asgidriver import http_scope, run_asgi, websocket_scope


def asgi_echo(environ, start_response):
    """Echo the body, after trying each extension on offer (query ?try)."""
    extensions = environ['gateway.extensions']
    notes = []
    if 'try' in environ['QUERY_STRING']:
        if 'http.response.early_hint' in extensions:
            hint = extensions['http.response.early_hint']
            hint([('Link', '</a.css>; rel=preload')])
            try:
                hint([('X-Other', 'no')])
            except ValueError:
                notes.append('hint:ValueError')
        if 'http.response.push' in extensions:
            notes.append('push:%s' % extensions['http.response.push']('/a.css'))
        if 'http.response.trailers' in extensions:
            extensions['http.response.trailers']([('X-Sum', '1')])
    body = environ['wsgi.input'].read()
    start_response('200 OK', TEXT + [('X-Notes', ','.join(notes)),
                                     ('X-Ext', ','.join(sorted(extensions)))])
    return iter([body[:3], body[3:]])


def asgi_failing(environ, start_response):
    raise KeyError('boom')


def asgi_ws(environ, start_response):
    hs = environ['gateway.extensions']['websocket']
    if environ['QUERY_STRING'] == 'reject':
        hs.reject(401, TEXT, b'no')
        return []
    ws = hs.accept(subprotocol='chat', headers=[('X-Hello', 'yes')])
    got = []
    try:
        ws.receive(timeout=0.05)  # nothing yet: times out, keeps its receive pending
    except WebSocketTimeout:
        got.append('timeout')
    for message in ws:
        got.append(message)
        ws.send(message)
    hs.last = (got, ws.close_code)
    return []


def asgi_ws_generator(environ, start_response):
    """Answers the handshake while the server iterates it."""
    ws = environ['gateway.extensions']['websocket'].accept()
    ws.send(u'hello')
    ws.close(4000)
    yield b'never sent'


@unittest.skipUnless(sys.version_info >= (3, 6), 'n/a: to_asgi needs Python 3.6+')
class ToAsgi(unittest.TestCase):
    def test_http_streams_both_ways(self):
        sent, error = run_asgi(to_asgi(asgi_echo), http_scope('/e', 'POST'), [
            {'type': 'http.request', 'body': b'hel', 'more_body': True},
            {'type': 'http.request', 'body': b'lo!', 'more_body': False}])
        self.assertIsNone(error)
        start = sent[0]
        self.assertEqual((start['type'], start['status']), ('http.response.start', 200))
        self.assertNotIn('trailers', start)
        self.assertIn((b'x-ext', b''), start['headers'])
        bodies = [(m['body'], m['more_body']) for m in sent[1:]]
        self.assertEqual(bodies, [(b'hel', True), (b'lo!', True), (b'', False)])

    def test_extensions_mapped_where_offered(self):
        offered = {'http.response.push': {}, 'http.response.early_hint': {},
                   'http.response.trailers': {},
                   'tls': {'tls_version': 0x0304, 'cipher_suite': 0x1301, 'server_cert': None,
                           'client_cert_chain': [], 'client_cert_name': None,
                           'client_cert_error': None}}
        sent, error = run_asgi(to_asgi(asgi_echo),
                               http_scope('/e', query_string=b'try', http_version='2',
                                          extensions=offered),
                               [{'type': 'http.request', 'body': b'', 'more_body': False}])
        self.assertIsNone(error)
        kinds = [m['type'] for m in sent]
        self.assertEqual(kinds, ['http.response.early_hint', 'http.response.push',
                                 'http.response.start', 'http.response.body',
                                 'http.response.trailers'])  # empty chunks are not sent
        self.assertEqual(sent[0]['links'], [b'</a.css>; rel=preload'])
        self.assertEqual((sent[1]['path'], sent[1]['headers']), ('/a.css', []))
        start = sent[2]
        self.assertTrue(start['trailers'])
        headers = dict(start['headers'])
        self.assertEqual(headers[b'x-notes'], b'hint:ValueError,push:True')
        self.assertEqual(headers[b'x-ext'], b'http.response.early_hint,http.response.push,'
                                            b'http.response.trailers,tls')
        self.assertEqual(sent[-1], {'type': 'http.response.trailers',
                                    'headers': [(b'x-sum', b'1')], 'more_trailers': False})

    def test_tls_dict_from_asgi_tls(self):
        from portico.shim_asgi import tls_info
        tls = tls_info({'tls_version': 0x0304, 'cipher_suite': 0x1301,
                        'client_cert_chain': ['LEAF', 'CA'], 'server_name': 'example.org',
                        'alpn_protocol': 'h2'})
        self.assertEqual(tls, {'version': 'TLSv1.3', 'cipher': 0x1301,
                               'server_name': 'example.org', 'alpn': 'h2',
                               'peer_cert': 'LEAF', 'peer_cert_chain': ['LEAF', 'CA']})
        self.assertEqual(tls_info({'tls_version': 0x0303, 'cipher_suite': 0xc02b,
                                   'client_cert_chain': []})['peer_cert_chain'], [])

    def test_failure_before_start_is_500(self):
        sent, error = run_asgi(to_asgi(asgi_failing), http_scope(),
                               [{'type': 'http.request', 'body': b'', 'more_body': False}])
        self.assertIsInstance(error, KeyError)  # the server logs it
        self.assertEqual((sent[0]['type'], sent[0]['status']), ('http.response.start', 500))

    def test_lifespan(self):
        sent, error = run_asgi(to_asgi(asgi_echo), {'type': 'lifespan'},
                               [{'type': 'lifespan.startup'}, {'type': 'lifespan.shutdown'}])
        self.assertIsNone(error)
        self.assertEqual([m['type'] for m in sent],
                         ['lifespan.startup.complete', 'lifespan.shutdown.complete'])

    def test_websocket(self):
        app = to_asgi(asgi_ws)
        seen = {}

        def ws_app(environ, start_response):
            result = asgi_ws(environ, start_response)
            seen['last'] = environ['gateway.extensions']['websocket'].last
            return result
        app.app = ws_app
        sent, error = run_asgi(app, websocket_scope(subprotocols=['chat']),
                               [{'type': 'websocket.connect'}],
                               later=[(0.3, {'type': 'websocket.receive', 'text': u'hi'}),
                                      (0.35, {'type': 'websocket.receive', 'bytes': b'\x01'}),
                                      (0.4, {'type': 'websocket.disconnect', 'code': 1001})])
        self.assertIsNone(error)
        self.assertEqual(sent[0], {'type': 'websocket.accept', 'subprotocol': 'chat',
                                   'headers': [(b'x-hello', b'yes')]})
        self.assertEqual(sent[1:], [{'type': 'websocket.send', 'text': u'hi'},
                                    {'type': 'websocket.send', 'bytes': b'\x01'}])
        self.assertEqual(seen['last'], (['timeout', u'hi', b'\x01'], 1001))

    def test_websocket_generator_app(self):
        scope = websocket_scope(extensions={'websocket.http.response': {}})
        sent, error = run_asgi(to_asgi(asgi_ws_generator), scope, [{'type': 'websocket.connect'}])
        self.assertIsNone(error)
        self.assertEqual(sent, [{'type': 'websocket.accept', 'subprotocol': None},
                                {'type': 'websocket.send', 'text': u'hello'},
                                {'type': 'websocket.close', 'code': 4000}])

    def test_websocket_reject(self):
        # Without websocket.http.response the server can only answer 403.
        scope = websocket_scope()
        scope['query_string'] = b'reject'
        sent, error = run_asgi(to_asgi(asgi_ws), scope, [{'type': 'websocket.connect'}])
        self.assertIsNone(error)
        self.assertEqual(sent, [{'type': 'websocket.close', 'code': 1000}])
        scope['extensions'] = {'websocket.http.response': {}}
        sent, error = run_asgi(to_asgi(asgi_ws), scope, [{'type': 'websocket.connect'}])
        self.assertIsNone(error)
        self.assertEqual(sent, [
            {'type': 'websocket.http.response.start', 'status': 401,
             'headers': [(b'content-type', b'text/plain')]},
            {'type': 'websocket.http.response.body', 'body': b'no', 'more_body': False}])


if __name__ == '__main__':
    unittest.main()
