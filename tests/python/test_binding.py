"""The ctypes binding itself: lazy loading, errors, Server, serve() in-process."""

import os
import subprocess
import sys
import threading
import unittest

from support import BINDINGS, IO_TIMEOUT, httplib, requires_library, subprocess_env

import portico
from portico import _lib, errors
from portico.wsgi import WSGIHandler


def run_python(code, env=None):
    """Run CODE in a fresh interpreter; returns (exit code, output)."""
    process = subprocess.Popen([sys.executable, '-c', code], env=env or subprocess_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.communicate()[0].decode('utf-8', 'replace')
    return process.returncode, output


class ImportTest(unittest.TestCase):

    def test_import_does_not_load_the_library(self):
        code, output = run_python(
            'import portico, portico.cli, portico.wsgi, portico.server, portico.workers\n'
            'maps = open("/proc/self/maps").read()\n'
            'print("loaded" if "libportico" in maps else "not loaded")\n'
            'print(portico._lib.is_loaded())\n')
        self.assertEqual(code, 0, output)
        self.assertEqual(output.split(), ['not', 'loaded', 'False'])

    def test_version(self):
        self.assertEqual(portico.__version__, '0.1.0')

    def test_missing_library_error_lists_the_paths_tried(self):
        env = subprocess_env()
        env['PORTICO_LIBRARY'] = '/nonexistent/libportico.so'
        code, output = run_python(
            'import portico\n'
            'try:\n'
            '    portico.Server()\n'
            'except portico.LibraryNotFound as exc:\n'
            '    print("LibraryNotFound: %s" % exc)\n', env=env)
        self.assertEqual(code, 0, output)
        self.assertIn('LibraryNotFound', output)
        self.assertIn('/nonexistent/libportico.so (not found)', output)

    def test_candidate_paths_order(self):
        """Without PORTICO_LIBRARY: inside the package, then the checkout's build/."""
        env_before = os.environ.pop('PORTICO_LIBRARY', None)
        try:
            paths = _lib.candidate_paths()
        finally:
            if env_before is not None:
                os.environ['PORTICO_LIBRARY'] = env_before
        self.assertEqual(paths[0], os.path.join(BINDINGS, 'portico', 'libportico.so'))
        self.assertEqual(os.path.normpath(paths[1]), os.path.normpath(
            os.path.join(BINDINGS, '..', '..', 'build', 'libportico.so')))

    def test_error_carries_code_and_message(self):
        exc = errors.PorticoError(errors.ERR_INVALID, 'bad handle')
        self.assertEqual((exc.code, exc.message, exc.name), (-2, 'bad handle', 'INVALID'))
        self.assertIn('bad handle', str(exc))


@requires_library
class LibraryTest(unittest.TestCase):
    """These load the library into the test process: nothing here forks
    without exec afterwards, so that is safe."""

    def test_abi_and_strerror(self):
        lib = _lib.load()
        self.assertEqual(lib.portico_abi_version(), 1)
        self.assertTrue(_lib.library_version())
        for code in errors.CODE_NAMES:
            self.assertTrue(_lib.strerror(code))

    def test_bad_request_id_is_invalid(self):
        lib = _lib.load()
        for call in (lambda: lib.portico_request_respond(987654321, b'200 OK', 6, b'', 0, 1),
                     lambda: lib.portico_request_write(987654321, b'x', 1, 1),
                     lambda: lib.portico_request_abort(987654321, 500),
                     lambda: lib.portico_request_read(987654321, None, 0, 0)):
            self.assertEqual(call(), errors.ERR_INVALID)
        with self.assertRaises(portico.PorticoError) as caught:
            _lib.check(lib.portico_request_abort(987654321, 500))
        self.assertEqual(caught.exception.code, errors.ERR_INVALID)

    def test_unknown_option_is_refused(self):
        with self.assertRaises(portico.PorticoError) as caught:
            portico.Server({'no_such_option': 1})
        self.assertEqual(caught.exception.code, errors.ERR_OPTION)
        with self.assertRaises(portico.PorticoError) as caught:
            portico.Server({'max_head_size': 'lots'})
        self.assertEqual(caught.exception.code, errors.ERR_OPTION)

    def test_listen_timeout_shutdown_close(self):
        server = portico.Server({'graceful_timeout_ms': 1000})
        try:
            address = server.listen('127.0.0.1:0')
            host, _, port = address.rpartition(':')
            self.assertEqual(host, '127.0.0.1')
            self.assertGreater(int(port), 0)
            self.assertEqual(server.addresses, [address])
            self.assertIsNone(server.next(10))  # nothing pending: timeout
            server.shutdown()
            self.assertRaises(portico.ServerClosed, server.next, 10)
            server.shutdown()  # twice is harmless
        finally:
            server.close()
        server.close()
        self.assertRaises(portico.PorticoError, server.listen, '127.0.0.1:0')

    def test_listen_failure_names_the_address(self):
        server = portico.Server()
        try:
            with self.assertRaises(portico.PorticoError) as caught:
                server.listen('256.1.1.1:80')
            self.assertIn('256.1.1.1:80', str(caught.exception))
        finally:
            server.close()

    def test_next_returns_a_parsed_record(self):
        server = portico.Server()
        try:
            port = int(server.listen('127.0.0.1:0').rpartition(':')[2])
            replies = []

            def client():
                connection = httplib.HTTPConnection('127.0.0.1', port, timeout=IO_TIMEOUT)
                connection.request('POST', '/p%41th?q=1', body=b'hello', headers={'X-One': 'a'})
                response = connection.getresponse()
                replies.append((response.status, response.read()))
                connection.close()
            thread = threading.Thread(target=client)
            thread.start()
            request = None
            for _ in range(100):
                request = server.next(100)
                if request is not None:
                    break
            self.assertIsNotNone(request)
            self.assertEqual((request.method, request.path, request.query, request.protocol),
                             ('POST', '/p%41th', 'q=1', 'HTTP/1.1'))
            self.assertIn(('X-One', 'a'), request.headers)
            # The body may come in the record or later: read it through wsgi.input.
            environ = WSGIHandler(None).environ(request)
            self.assertEqual(environ['wsgi.input'].read(), b'hello')
            head = b'201 Created\0Content-Type\0text/plain'
            self.assertEqual(_lib.load().portico_request_respond(
                request.id, head, len(head), b'made', 4, 1), 0)
            # The id is finished now: a second answer is refused, not a crash.
            self.assertLess(_lib.load().portico_request_respond(
                request.id, head, len(head), b'again', 5, 1), 0)
            thread.join(IO_TIMEOUT)
            self.assertEqual(replies, [(201, b'made')])
        finally:
            server.shutdown()
            server.close()

    def test_ready_descriptor_with_and_without_inline_io(self):
        # next() waits on the descriptor: the epoll loop's (inline_io 1,
        # not to be read) or an eventfd (inline_io 0, read to clear).
        for inline in ('1', '0'):
            server = portico.Server({'inline_io': inline})
            try:
                port = int(server.listen('127.0.0.1:0').rpartition(':')[2])
                for attempt in range(3):  # three waits on the descriptor per mode
                    replies = []

                    def client():
                        connection = httplib.HTTPConnection('127.0.0.1', port, timeout=IO_TIMEOUT)
                        connection.request('GET', '/%d' % attempt)
                        response = connection.getresponse()
                        replies.append(response.read())
                        connection.close()
                    thread = threading.Thread(target=client)
                    thread.start()
                    request = server.next(int(IO_TIMEOUT * 1000))
                    self.assertIsNotNone(request, 'inline_io %s' % inline)
                    head = b'200 OK'
                    self.assertEqual(_lib.load().portico_request_respond(
                        request.id, head, len(head), request.path.encode('ascii'), len(request.path), 1), 0)
                    thread.join(IO_TIMEOUT)
                    self.assertEqual(replies, [('/%d' % attempt).encode('ascii')])
            finally:
                server.shutdown()
                server.close()

    def test_serve_in_a_thread_stops_on_event(self):
        def hello(environ, start_response):
            start_response('200 OK', [('Content-Type', 'text/plain')])
            return [b'hello from ', environ['SERVER_PROTOCOL'].encode('ascii')]

        ready = []
        stop = threading.Event()
        thread = threading.Thread(target=portico.serve, args=(hello,),
                                  kwargs={'bind': '127.0.0.1:0', 'threads': 2, 'stop': stop,
                                          'on_ready': ready.extend,
                                          'options': {'graceful_timeout_ms': 2000}})
        thread.start()
        try:
            for _ in range(200):
                if ready or not thread.is_alive():
                    break
                thread.join(0.02)
            self.assertTrue(ready, 'serve() did not report its address')
            port = int(ready[0].rpartition(':')[2])
            connection = httplib.HTTPConnection('127.0.0.1', port, timeout=IO_TIMEOUT)
            connection.request('GET', '/')
            response = connection.getresponse()
            self.assertEqual((response.status, response.read()), (200, b'hello from HTTP/1.1'))
            connection.close()
        finally:
            stop.set()
            thread.join(IO_TIMEOUT)
        self.assertFalse(thread.is_alive())


if __name__ == '__main__':
    unittest.main()
