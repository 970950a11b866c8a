"""HTTP/1.1 framing edges (issue 17, RFC 9112 and RFC 9110 8.6), over a raw
socket to `portico serve`, on the inline I/O path and on the library's
threads (--no-inline-io): a repeated or listed Content-Length reaches the app
as one value, an absolute-form target's authority is the Host, empty lines
before a request are skipped, and what the server refuses is answered at
once (400, 505) and logged."""

import json
import re
import time
import unittest

from support import Conversation, ServerProcess, library_available

ACCEPTED = [
    # name, request bytes, the environ keys expected
    ('Content-Length twice',
     b'POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
     {'CONTENT_LENGTH': '5', 'HTTP_HOST': 'h', 'PATH_INFO': '/p'}),
    ('Content-Length list',
     b'POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello',
     {'CONTENT_LENGTH': '5', 'HTTP_HOST': 'h', 'PATH_INFO': '/p'}),
    ('absolute form',
     b'GET http://example.test/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n',
     {'HTTP_HOST': 'example.test', 'SERVER_NAME': 'example.test', 'SERVER_PORT': '80',
      'PATH_INFO': '/p', 'QUERY_STRING': 'q=1'}),
    ('absolute form with a port',
     b'GET http://example.test:8080/p HTTP/1.1\r\nHost: other\r\n\r\n',
     {'HTTP_HOST': 'example.test:8080', 'SERVER_NAME': 'example.test', 'SERVER_PORT': '8080',
      'PATH_INFO': '/p', 'QUERY_STRING': ''}),
    ('empty lines first',
     b'\r\n\r\n\r\nGET /e HTTP/1.1\r\nHost: h\r\n\r\n',
     {'HTTP_HOST': 'h', 'PATH_INFO': '/e'}),
]

REFUSED = [
    # name, request bytes, status, the request part of the access log line
    ('Content-Length differs',
     b'POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', 400,
     'POST /p HTTP/1.1'),
    ('lower-case version', b'GET /lower http/1.1\r\nHost: h\r\n\r\n', 400, 'GET /lower http/1.1'),
    ('no version', b'GET /nine\r\n\r\n', 400, 'GET /nine'),
    ('HTTP/2.0 on an HTTP/1.1 port', b'GET /two HTTP/2.0\r\nHost: h\r\n\r\n', 505, 'GET /two HTTP/2.0'),
    ('HTTP/3.0', b'GET /three HTTP/3.0\r\nHost: h\r\n\r\n', 505, 'GET /three HTTP/3.0'),
    ('bare LF', b'GET /lf HTTP/1.1\nHost: h\n\n', 400, 'GET /lf HTTP/1.1'),
    # The request line alone over max_head_size (64 KiB): the log keeps 1 KiB of it.
    ('request line too long', b'GET /' + b'u' * 70000 + b' HTTP/1.1\r\nHost: h\r\n\r\n', 414,
     'GET /' + 'u' * 1019),
]


@unittest.skipUnless(library_available(), 'libportico.so not built')
class FramingTest(unittest.TestCase):
    ARGS = ()

    def setUp(self):
        self.server = ServerProcess(args=('--threads', '2', '--access-log',
                                          '--header-timeout', '60') + self.ARGS)
        self.addCleanup(self.server.stop)

    def exchange(self, data):
        conversation = Conversation(self.server.port)
        self.addCleanup(conversation.close)
        conversation.send(data)
        return conversation

    def test_edges_the_app_sees_as_they_should_be(self):
        for name, data, expected in ACCEPTED:
            response = self.exchange(data).read_response()
            self.assertEqual(response.status, 200, name)
            environ = json.loads(response.body.decode('utf-8'))
            for key, value in expected.items():
                self.assertEqual(environ.get(key), value, '%s: %s' % (name, key))

    def test_refusals_are_answered_at_once_and_logged(self):
        for name, data, status, _ in REFUSED:
            started = time.time()
            conversation = self.exchange(data)
            response = conversation.read_response()
            self.assertEqual(response.status, status, name)
            self.assertEqual(response.header('connection'), 'close', name)
            conversation.read_until_closed()
            # Far below the header timeout (60 s), generous for a loaded machine.
            self.assertLess(time.time() - started, 20, name)
        for name, _, status, line in REFUSED:
            # The access line (bytes unknown: "-"), and an error line with the reason.
            self.wait_for_log(r'^127\.0\.0\.1 - - \[[^]]+\] "%s" %d - "-" "-" \d+\.\d{6}$'
                              % (re.escape(line), status), name)
            self.wait_for_log(r'^\[portico\] 127\.0\.0\.1 "%s": the server answered %d itself: \w'
                              % (re.escape(line), status), name)

    def wait_for_log(self, pattern, what):
        pattern = re.compile(pattern, re.M)
        deadline = time.time() + 10
        while not pattern.search(self.server.output()) and time.time() < deadline:
            time.sleep(0.05)
        if not pattern.search(self.server.output()):
            self.fail('%s: no line matching %r in:\n%s' % (what, pattern.pattern, self.server.output()))


class FramingGoroutinePathTest(FramingTest):
    ARGS = ('--no-inline-io',)


@unittest.skipUnless(library_available(), 'libportico.so not built')
class ContentLengthMismatchTest(unittest.TestCase):
    """An app whose body disagrees with its Content-Length: the client gets
    the declared bytes at most and then the connection closes (never more
    bytes, never a hang); an error line names the request and the numbers."""

    def test_cut_and_logged(self):
        for args in ((), ('--no-inline-io',)):
            server = ServerProcess(args=('--threads', '2', '--access-log') + args)
            self.addCleanup(server.stop)
            for query, wire, gave, how in (('cl=3&n=19', b'xxx', 19, 'cut at the declared length'),
                                           ('cl=3&n=19&chunks=1', b'xxx', 4, 'cut at the declared length'),
                                           ('cl=30&n=6', b'xxxxxx', 6, 'cut short')):
                conversation = Conversation(server.port)
                self.addCleanup(conversation.close)
                conversation.send(b'GET /wrong-length?' + query.encode() + b' HTTP/1.1\r\nHost: h\r\n\r\n')
                version, status, reason, headers = conversation.read_head()
                self.assertEqual(status, 200)
                self.assertEqual(conversation.read_until_closed(), wire, query)
                declared = 30 if 'cl=30' in query else 3
                pattern = re.compile(r'^\[portico\] GET /wrong-length: the response body disagrees with its '
                                     r'Content-Length: declared %d, the app gave %d \(%s\)$' % (declared, gave, how),
                                     re.M)
                deadline = time.time() + 10
                while not pattern.search(server.output()) and time.time() < deadline:
                    time.sleep(0.05)
                self.assertTrue(pattern.search(server.output()), server.output())
                self.assertIn('"GET /wrong-length?%s HTTP/1.1" 200 %d ' % (query, len(wire)), server.output())


if __name__ == '__main__':
    unittest.main()
