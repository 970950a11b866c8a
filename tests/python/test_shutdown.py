"""Graceful shutdown on SIGTERM and SIGINT, and the command line's start-up."""

import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from support import (HERE, Conversation, ServerProcess, library_available, request_bytes,
                     subprocess_env)


@unittest.skipUnless(library_available(), 'libportico.so not built')
class ShutdownTest(unittest.TestCase):

    def start(self, *args):
        server = ServerProcess(args=('--threads', '2', '--graceful-timeout', '10') + args)
        self.addCleanup(server.stop)
        return server

    def in_flight(self, server, signum):
        conversation = Conversation(server.port)
        self.addCleanup(conversation.close)
        conversation.send(request_bytes('GET', '/slow?s=1'))
        time.sleep(0.4)  # the app is now sleeping inside the request
        started = time.time()
        server.signal(signum)
        response = conversation.read_response()
        self.assertEqual((response.status, response.body), (200, b'slow done\n'))
        code = server.wait()
        self.assertEqual(code, 0, server.output())
        self.assertLess(time.time() - started, 8)
        # The listener is gone.
        self.assertRaises(socket.error, socket.create_connection, ('127.0.0.1', server.port), 2)

    def test_sigterm_completes_the_request_in_flight(self):
        self.in_flight(self.start(), signal.SIGTERM)

    def test_sigint_completes_the_request_in_flight(self):
        self.in_flight(self.start(), signal.SIGINT)

    def test_idle_server_exits_at_once(self):
        server = self.start()
        conversation = Conversation(server.port)  # an idle keep-alive connection
        self.addCleanup(conversation.close)
        conversation.send(request_bytes('GET', '/status?code=200'))
        self.assertEqual(conversation.read_response().status, 200)
        started = time.time()
        server.signal(signal.SIGTERM)
        self.assertEqual(server.wait(), 0, server.output())
        self.assertLess(time.time() - started, 5)
        self.assertTrue(conversation.is_closed(2))

    def test_banner(self):
        server = self.start('--threads', '3')
        banner = server.output().strip().splitlines()[0]
        self.assertEqual(banner, 'portico: serving apps:app on http://127.0.0.1:%d (threads 3)'
                         % server.port)

    def test_access_log(self):
        server = self.start('--access-log')
        conversation = Conversation(server.port)
        self.addCleanup(conversation.close)
        conversation.send(request_bytes('GET', '/status?code=201', [('User-Agent', 'probe/1')]))
        self.assertEqual(conversation.read_response().status, 201)
        deadline = time.time() + 5
        while 'GET /status?code=201 HTTP/1.1" 201' not in server.output() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn('"GET /status?code=201 HTTP/1.1" 201 12 "-" "probe/1"', server.output())


class CommandLineTest(unittest.TestCase):

    def run_cli(self, *args):
        """(exit code, output) of `python -m portico ARGS`, killed after 20 s."""
        with tempfile.TemporaryFile() as log:
            process = subprocess.Popen([sys.executable, '-m', 'portico'] + list(args), cwd=HERE,
                                       env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT)
            deadline = time.time() + 20
            while process.poll() is None and time.time() < deadline:
                time.sleep(0.02)
            if process.poll() is None:
                process.kill()
            code = process.wait()
            log.seek(0)
            return code, log.read().decode('utf-8', 'replace')

    def test_unknown_module(self):
        code, output = self.run_cli('serve', 'no_such_module_here:app')
        self.assertEqual(code, 2)
        self.assertIn("cannot import 'no_such_module_here'", output)

    def test_unknown_attribute(self):
        code, output = self.run_cli('serve', 'apps:nothing')
        self.assertEqual(code, 2)
        self.assertIn("has no 'nothing'", output)

    @unittest.skipIf(sys.version_info >= (3, 8), 'n/a: ASGI runs here: tests/asgi covers it')
    def test_asgi_needs_python_3_8(self):
        code, output = self.run_cli('serve', 'apps:app', '--interface', 'asgi')
        self.assertEqual(code, 2)
        self.assertIn('need Python 3.8', output)

    def test_bad_threads(self):
        code, output = self.run_cli('serve', 'apps:app', '--threads', '0')
        self.assertEqual(code, 2)

    @unittest.skipUnless(library_available(), 'libportico.so not built')
    def test_bind_failure(self):
        code, output = self.run_cli('serve', 'apps:app', '--bind', '256.0.0.1:1')
        self.assertEqual(code, 1)
        self.assertIn('256.0.0.1:1', output)


if __name__ == '__main__':
    unittest.main()
