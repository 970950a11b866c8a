"""What the application sees in environ (PEP 3333 plus the gateway keys)."""

import json
import unittest

from support import ServerTestCase, request_bytes


class EnvironTest(ServerTestCase):

    def environ(self, path='/environ', headers=(), **kwargs):
        response = self.get(path, headers, **kwargs)
        self.assertEqual(response.status, 200, response)
        return json.loads(response.body.decode('utf-8'))

    def test_required_keys(self):
        env = self.environ('/environ?a=1&b=%20')
        self.assertEqual(env['REQUEST_METHOD'], 'GET')
        self.assertEqual(env['SCRIPT_NAME'], '')
        self.assertEqual(env['PATH_INFO'], '/environ')
        self.assertEqual(env['QUERY_STRING'], 'a=1&b=%20')  # the query stays encoded
        self.assertEqual(env['SERVER_PROTOCOL'], 'HTTP/1.1')
        self.assertEqual(env['wsgi.version'], [1, 0])
        self.assertEqual(env['wsgi.url_scheme'], 'http')
        self.assertEqual(env['REMOTE_ADDR'], '127.0.0.1')
        self.assertTrue(env['REMOTE_PORT'].isdigit())
        self.assertIs(env['wsgi.multithread'], True)
        self.assertIs(env['wsgi.multiprocess'], False)
        self.assertIs(env['wsgi.run_once'], False)
        self.assertIs(env['wsgi.input_terminated'], True)
        self.assertTrue(env['has_file_wrapper'])
        self.assertTrue(env['errors_is_stream'])

    def test_gateway_keys(self):
        env = self.environ()
        self.assertEqual(env['gateway.version'], [1, 0])
        self.assertEqual(env['gateway.http_version'], '1.1')
        # Early hints are offered on every HTTP/1.1 request; the rest depend
        # on the request (test_extensions.py).
        self.assertEqual(env['gateway.extensions'], ['http.response.early_hint'])

    def test_http_10(self):
        env = self.environ(version='HTTP/1.0', host=None)
        self.assertEqual(env['SERVER_PROTOCOL'], 'HTTP/1.0')
        self.assertEqual(env['gateway.http_version'], '1.0')
        # No Host: the local address names the server.
        self.assertEqual(env['SERVER_NAME'], '127.0.0.1')
        self.assertEqual(env['SERVER_PORT'], str(self.server.port))
        self.assertNotIn('HTTP_HOST', env)

    def test_server_name_and_port_from_host(self):
        env = self.environ(host='example.org:8443')
        self.assertEqual((env['SERVER_NAME'], env['SERVER_PORT']), ('example.org', '8443'))
        env = self.environ(host='example.org')
        self.assertEqual((env['SERVER_NAME'], env['SERVER_PORT']), ('example.org', '80'))
        env = self.environ(host='[::1]:9000')
        self.assertEqual((env['SERVER_NAME'], env['SERVER_PORT']), ('[::1]', '9000'))

    def test_path_is_percent_decoded_to_latin1(self):
        env = self.environ('/caf%C3%A9/a%20b/%2F/x')
        # UTF-8 bytes C3 A9 arrive as two latin-1 code points, as PEP 3333 says.
        self.assertEqual(env['PATH_INFO_ORDS'], [ord(c) for c in '/caf\xc3\xa9/a b///x'])

    def test_raw_latin1_bytes_in_path(self):
        raw = b'GET /\xe9t\xe9 HTTP/1.1\r\nHost: x\r\n\r\n'
        response = self.exchange(raw)
        if response.status == 400:
            self.skipTest('the engine refuses non-ASCII request targets')
        env = json.loads(response.body.decode('utf-8'))
        self.assertEqual(env['PATH_INFO_ORDS'], [0x2f, 0xe9, 0x74, 0xe9])

    def test_query_string_untouched(self):
        env = self.environ('/environ?x=%41&y=a+b&z')
        self.assertEqual(env['QUERY_STRING'], 'x=%41&y=a+b&z')
        self.assertEqual(self.environ('/environ')['QUERY_STRING'], '')

    def test_headers(self):
        env = self.environ(headers=[
            ('X-Custom', 'one'), ('x-custom', 'two'), ('Accept', 'a/b'),
            ('Cookie', 'a=1'), ('Cookie', 'b=2'), ('X-Spaces', 'v  with  spaces'),
        ])
        self.assertEqual(env['HTTP_X_CUSTOM'], 'one, two')
        self.assertEqual(env['HTTP_ACCEPT'], 'a/b')
        self.assertEqual(env['HTTP_COOKIE'], 'a=1; b=2')
        self.assertEqual(env['HTTP_X_SPACES'], 'v  with  spaces')
        self.assertEqual(env['HTTP_HOST'], 'test.example')

    def test_underscore_headers_are_dropped(self):
        env = self.environ(headers=[('X-Auth_User', 'mallory'), ('X-Auth-User', 'alice'),
                                    ('Content_Type', 'evil/type')])
        self.assertEqual(env['HTTP_X_AUTH_USER'], 'alice')
        self.assertNotIn('CONTENT_TYPE', env)
        self.assertFalse([k for k in env if 'mallory' in str(env[k])])

    def test_latin1_header_value(self):
        raw = request_bytes('GET', '/environ', [('X-Name', u'caf\xe9')])
        env = json.loads(self.exchange(raw).body.decode('utf-8'))
        self.assertEqual(env['HTTP_X_NAME'], u'caf\xe9')

    def test_content_type_and_length(self):
        raw = request_bytes('POST', '/environ', [('Content-Type', 'text/plain')], body=b'12345')
        env = json.loads(self.exchange(raw).body.decode('utf-8'))
        self.assertEqual(env['CONTENT_TYPE'], 'text/plain')
        self.assertEqual(env['CONTENT_LENGTH'], '5')
        self.assertNotIn('HTTP_CONTENT_TYPE', env)
        self.assertNotIn('HTTP_CONTENT_LENGTH', env)

    def test_no_content_length_unless_sent(self):
        env = self.environ()
        self.assertNotIn('CONTENT_LENGTH', env)
        self.assertNotIn('CONTENT_TYPE', env)

    def test_methods(self):
        for method in ('PUT', 'DELETE', 'OPTIONS', 'PATCH'):
            raw = request_bytes(method, '/environ', body=b'x' if method != 'OPTIONS' else b'')
            env = json.loads(self.exchange(raw).body.decode('utf-8'))
            self.assertEqual(env['REQUEST_METHOD'], method)


if __name__ == '__main__':
    unittest.main()
