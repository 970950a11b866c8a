"""WSGI middleware between Portico (`portico serve`) and a gateway app keeps
the extensions working: early hints, trailers, request trailers over h2c,
WebSocket. Real clients: curl and python websockets. Run like
test_containers.py."""

import json
import sys
import unittest

from test_containers import Server, curl, free_port, ws_session, ECHO_STEPS


class StackCase(object):
    spec = None
    marker = None   # the response header the middleware adds

    @classmethod
    def setUpClass(cls):
        port = free_port()
        cls.server = Server([sys.executable, '-m', 'portico', 'serve', cls.spec, '--bind',
                             '127.0.0.1:%d' % port], port)
        cls.base = 'http://127.0.0.1:%d' % port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_extensions_seen(self):
        status, body = curl(self.base + '/info', '-i')
        self.assertEqual(status, 200)
        self.assertIn(self.marker.encode('ascii'), body)  # the middleware ran
        info = json.loads(body.split(b'\r\n\r\n', 1)[1].decode('utf-8'))
        self.assertEqual(info['http_version'], '1.1')
        self.assertIn('http.response.early_hint', info['extensions'])

    def test_early_hints(self):
        status, body = curl(self.base + '/hints', '-i')
        self.assertEqual(status, 200)
        self.assertTrue(body.startswith(b'HTTP/1.1 103 Early Hints\r\n'), body)
        self.assertIn(b'Link: </style.css>; rel=preload; as=style', body)
        self.assertIn(self.marker.encode('ascii'), body)
        self.assertTrue(body.endswith(b'hinted\n'), body)

    def test_trailers(self):
        """HTTP/1.1 with TE: trailers: the trailer arrives after the last chunk."""
        status, body = curl(self.base + '/trailers', '--raw', '-H', 'TE: trailers')
        self.assertEqual(status, 200)
        self.assertIn(b'with trailers', body)
        self.assertIn(b'0\r\nX-Checksum: abc123\r\n', body)

    def test_h2c(self):
        status, body = curl(self.base + '/info', '--http2-prior-knowledge')
        info = json.loads(body.decode('utf-8'))
        self.assertEqual(info['http_version'], '2')
        self.assertIn('http.response.trailers', info['extensions'])
        self.assertIn('http.request.trailers', info['extensions'])

    def test_websocket(self):
        seen = ws_session('ws' + self.base[4:] + '/ws', ECHO_STEPS)
        self.assertEqual(seen, [('subprotocol', 'echo'), ('message', 'hello'),
                                ('message', b'\x00\x01\xff'), ('closed', 4001, 'asked to')])


class WebObMiddleware(StackCase, unittest.TestCase):
    spec = 'mwapp:webob_stack'
    marker = 'X-WebOb: yes'

    def test_denied(self):
        self.assertEqual(curl(self.base + '/info?deny=1'), (403, b'denied by webob\n'))


class StartResponseWrapper(StackCase, unittest.TestCase):
    spec = 'mwapp:wrapping_stack'
    marker = 'X-Wrapped: yes'


class BothMiddlewares(StackCase, unittest.TestCase):
    spec = 'mwapp:both_stack'
    marker = 'X-Wrapped: yes'


if __name__ == '__main__':
    unittest.main()
