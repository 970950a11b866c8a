"""--access-log, --access-log-file and --access-log-format: one line per
request in the combined (or common) log format, the protocol in the request
line, the response time last; nothing at all when off."""

import os
import re
import subprocess
import tempfile
import time
import unittest

from support import Conversation, ServerProcess, library_available, request_bytes

STAMP = r'\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\]'
COMBINED = re.compile(r'^127\.0\.0\.1 - - ' + STAMP + r' "GET /status\?code=201 HTTP/1\.1" '
                      r'201 12 "http://referer\.example/" "probe/1" \d+\.\d{6}$', re.M)
COMMON = re.compile(r'^127\.0\.0\.1 - - ' + STAMP + r' "GET /status\?code=201 HTTP/1\.1" '
                    r'201 12 \d+\.\d{6}$', re.M)
H2 = re.compile(r'^127\.0\.0\.1 - - ' + STAMP + r' "GET /status\?code=202 HTTP/2\.0" '
                r'202 12 "-" "curl/[^"]+" \d+\.\d{6}$', re.M)
ANY_LINE = re.compile(r'"GET /status\?code=20\d HTTP/')


def has_curl():
    try:
        return subprocess.call(['curl', '--version'], stdout=open(os.devnull, 'w')) == 0
    except OSError:
        return False


@unittest.skipUnless(library_available(), 'libportico.so not built')
class AccessLogTest(unittest.TestCase):

    def serve(self, *args):
        server = ServerProcess(args=('--threads', '2') + args)
        self.addCleanup(server.stop)
        return server

    def request(self, server):
        conversation = Conversation(server.port)
        self.addCleanup(conversation.close)
        conversation.send(request_bytes('GET', '/status?code=201', [
            ('User-Agent', 'probe/1'), ('Referer', 'http://referer.example/')]))
        self.assertEqual(conversation.read_response().status, 201)

    def wait_for(self, read, pattern):
        deadline = time.time() + 5
        while not pattern.search(read()) and time.time() < deadline:
            time.sleep(0.05)
        return read()

    def test_combined_to_a_file_with_http2(self):
        handle, path = tempfile.mkstemp(suffix='.log')
        os.close(handle)
        self.addCleanup(os.remove, path)

        def read():
            with open(path) as log:
                return log.read()

        server = self.serve('--access-log-file', path)
        self.request(server)
        text = self.wait_for(read, COMBINED)
        self.assertRegexpMatches(text, COMBINED)
        self.assertNotIn('[portico]', text)  # bare lines, for log tools
        if has_curl():
            subprocess.check_call(['curl', '-sS', '-o', os.devnull, '--max-time', '5',
                                   '--http2-prior-knowledge',
                                   'http://127.0.0.1:%d/status?code=202' % server.port])
            self.assertRegexpMatches(self.wait_for(read, H2), H2)
        self.assertNotRegexpMatches(server.output(), ANY_LINE)  # the file, not stderr

    def test_common_format_on_stderr(self):
        server = self.serve('--access-log', '--access-log-format', 'common')
        self.request(server)
        self.assertRegexpMatches(self.wait_for(server.output, COMMON), COMMON)

    def test_off_by_default(self):
        server = self.serve()
        self.request(server)
        time.sleep(0.3)
        self.assertNotRegexpMatches(server.output(), ANY_LINE)


class ServerAnswersTest(unittest.TestCase):
    """The answers the server makes itself are logged with their own status
    (issue 17): a 503 of the request timeout, for a request the app had (its
    line says 503, not the app's 200) and for one still queued behind it."""

    def test_request_timeout_logged_as_503(self):
        for path_args in ((), ('--no-inline-io',)):
            server = ServerProcess(args=('--threads', '1', '--access-log', '--request-timeout', '1')
                                   + path_args)
            self.addCleanup(server.stop)
            first, second = Conversation(server.port), Conversation(server.port)
            self.addCleanup(first.close)
            self.addCleanup(second.close)
            first.send(request_bytes('GET', '/slow?s=2.5'))
            time.sleep(0.3)  # the one thread has it; the next one waits in the queue
            second.send(request_bytes('GET', '/queued?x=1', [('User-Agent', 'probe/2')]))
            self.assertEqual(first.read_response().status, 503)
            self.assertEqual(second.read_response().status, 503)
            for pattern in (r'"GET /slow\?s=2\.5 HTTP/1\.1" 503 - "-" "-" \d',
                            r'\[portico\] GET /slow: request timeout .*answered 503 itself',
                            r'"GET /queued\?x=1 HTTP/1\.1" 503 - "-" "probe/2" 0\.000000',
                            r'\[portico\] 127\.0\.0\.1 "GET /queued\?x=1 HTTP/1\.1": the server answered 503 '
                            r'itself: request timeout'):
                pattern = re.compile(pattern)
                deadline = time.time() + 10
                while not pattern.search(server.output()) and time.time() < deadline:
                    time.sleep(0.05)
                self.assertRegexpMatches(server.output(), pattern)
            self.assertNotRegexpMatches(server.output(), r'"GET /slow\S* HTTP/1\.1" 200')


if not hasattr(unittest.TestCase, 'assertRegexpMatches'):  # removed in 3.12
    AccessLogTest.assertRegexpMatches = unittest.TestCase.assertRegex
    AccessLogTest.assertNotRegexpMatches = unittest.TestCase.assertNotRegex
    ServerAnswersTest.assertRegexpMatches = unittest.TestCase.assertRegex
    ServerAnswersTest.assertNotRegexpMatches = unittest.TestCase.assertNotRegex


if __name__ == '__main__':
    unittest.main()
