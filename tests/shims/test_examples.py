"""The examples of docs/spec.md run: docs/examples/hello.py under Portico, a
plain WSGI server without the shim, gunicorn and uWSGI through to_wsgi, and
uvicorn through to_asgi; and every code block of the spec that names an
example file is a verbatim part of that file. Run like test_containers.py."""

import os
import re
import sys
import threading
import unittest

from test_containers import CHECKOUT, Server, curl, free_port, nghttp, ws_session

EXAMPLES = os.path.join(CHECKOUT, 'docs', 'examples')
SPEC = os.path.join(CHECKOUT, 'docs', 'spec.md')
sys.path.insert(0, EXAMPLES)


class SpecBlocksAreExamples(unittest.TestCase):
    def test_blocks_match_files(self):
        with open(SPEC) as f:
            spec = f.read()
        blocks = re.findall(r'```python\n# (docs/examples/\S+)\n(.*?)```', spec, re.S)
        self.assertTrue(blocks, 'the spec shows no example')
        for path, code in blocks:
            with open(os.path.join(CHECKOUT, path)) as f:
                self.assertIn(code, f.read(), '%s: the spec shows code the file does not have'
                              % path)


class ServedCase(object):
    command = None

    @classmethod
    def setUpClass(cls):
        port = free_port()
        command = [part.replace('PORT', str(port)) for part in cls.command]
        if command[0] == 'python':
            command[0] = sys.executable
        cls.server = Server(command, port, cwd=EXAMPLES)
        cls.base = 'http://127.0.0.1:%d' % port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def get(self, *args):
        status, body = curl(self.base + '/', *args)
        self.assertEqual(status, 200)
        return body.decode('utf-8')


class OnPortico(ServedCase, unittest.TestCase):
    command = ['python', '-m', 'portico', 'serve', 'hello:app', '--bind', '127.0.0.1:PORT']

    def test_http11(self):
        self.assertEqual(self.get(), 'hello over HTTP/1.1; pushed: False; '
                                     'offered: http.response.early_hint\n')
        self.assertIn('103 Early Hints', self.get('-i'))

    def test_h2c_push_and_trailers(self):
        out = nghttp(self.base + '/')
        self.assertIn('hello over HTTP/2; pushed: True; offered: http.request.trailers, '
                      'http.response.early_hint, http.response.push, http.response.trailers', out)
        self.assertIn('recv PUSH_PROMISE', out)
        self.assertIn('x-body-length: ', out)

    def test_websocket(self):
        seen = ws_session('ws' + self.base[4:] + '/', [('send', 'hi'), ('recv',)])
        self.assertEqual(seen[1], ('message', 'hi'))


class UnderGunicorn(ServedCase, unittest.TestCase):
    command = ['python', '-m', 'gunicorn', '--bind', '127.0.0.1:PORT', 'hello:application']

    def test_degrades(self):
        self.assertEqual(self.get(), 'hello over HTTP/1.1; pushed: False; offered: nothing\n')


class UnderUwsgi(ServedCase, unittest.TestCase):
    command = ['uwsgi', '--plugin', 'python3', '--http11-socket', '127.0.0.1:PORT',
               '--wsgi-file', 'hello.py', '--pythonpath', os.path.join(CHECKOUT, 'bindings',
                                                                       'python'),
               '--die-on-term', '--disable-logging']

    def test_websocket(self):
        seen = ws_session('ws' + self.base[4:] + '/', [('send', b'hi'), ('recv',)])
        self.assertEqual(seen[1], ('message', b'hi'))


class UnderUvicorn(ServedCase, unittest.TestCase):
    command = ['python', '-m', 'uvicorn', '--host', '127.0.0.1', '--port', 'PORT',
               '--no-access-log', 'hello:asgi_application']

    def test_degrades(self):
        self.assertEqual(self.get(), 'hello over HTTP/1.1; pushed: False; offered: nothing\n')

    def test_websocket(self):
        seen = ws_session('ws' + self.base[4:] + '/', [('send', 'hi'), ('recv',)])
        self.assertEqual(seen[1], ('message', 'hi'))


class PlainWsgiWithoutShim(unittest.TestCase):
    """The gateway app is a WSGI app: a plain server runs it as is."""

    def test_wsgiref(self):
        from wsgiref.simple_server import WSGIRequestHandler, make_server
        import hello

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args):
                pass
        server = make_server('127.0.0.1', 0, hello.app, handler_class=Quiet)
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            status, body = curl('http://127.0.0.1:%d/' % server.server_port)
        finally:
            server.shutdown()
            thread.join(10)
            server.server_close()
        self.assertEqual((status, body), (200, b'hello over HTTP/?; pushed: False; '
                                               b'offered: nothing\n'))


if __name__ == '__main__':
    unittest.main()
