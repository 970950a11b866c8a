"""Requests the engine must refuse: the precise status, then a closed
connection, and the server carries on."""

import unittest

from support import ServerTestCase, request_bytes

MAX_HEAD = 4096
MAX_BODY = 1000


class RefusalTest(ServerTestCase):

    server_args = ('--threads', '2', '--max-head-size', str(MAX_HEAD),
                   '--max-body-size', str(MAX_BODY))

    def assertRefused(self, raw, status):
        conversation = self.conversation()
        conversation.send(raw)
        response = conversation.read_response()
        self.assertEqual(response.status, status, '%r -> %r' % (raw[:120], response))
        self.assertTrue(conversation.is_closed(), 'connection left open after %d' % status)
        # The server is still fine for everyone else.
        self.assertEqual(self.get('/status?code=200').status, 200)

    def test_content_length_and_transfer_encoding(self):
        self.assertRefused(b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n'
                           b'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', 400)

    def test_differing_content_lengths(self):
        self.assertRefused(b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n'
                           b'Content-Length: 6\r\n\r\nhello!', 400)

    def test_bad_content_length(self):
        for value in (b'abc', b'-1', b'1 2', b'+5', b'0x5'):
            self.assertRefused(b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ' + value +
                               b'\r\n\r\nhello', 400)

    def test_unknown_transfer_coding(self):
        self.assertRefused(b'POST /echo HTTP/1.1\r\nHost: x\r\n'
                           b'Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 501)

    def test_bad_chunk_size(self):
        self.assertRefused(b'POST /echo HTTP/1.1\r\nHost: x\r\n'
                           b'Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', 400)

    def test_space_before_colon(self):
        self.assertRefused(b'GET / HTTP/1.1\r\nHost: x\r\nX-Bad : 1\r\n\r\n', 400)

    def test_control_character_in_value(self):
        self.assertRefused(b'GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n', 400)

    def test_missing_host_on_http11(self):
        self.assertRefused(b'GET / HTTP/1.1\r\nX-Other: 1\r\n\r\n', 400)

    def test_two_hosts(self):
        self.assertRefused(b'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400)

    def test_unsupported_version(self):
        self.assertRefused(b'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505)

    def test_head_over_limit(self):
        self.assertRefused(request_bytes('GET', '/', [('X-Big', 'a' * (MAX_HEAD + 100))]), 431)

    def test_body_over_limit_with_content_length(self):
        self.assertRefused(request_bytes('POST', '/echo', body=b'x' * (MAX_BODY + 1)), 413)

    def test_body_over_limit_chunked(self):
        from support import chunked
        self.assertRefused(request_bytes('POST', '/echo', [('Transfer-Encoding', 'chunked')],
                                         chunked(b'x' * (MAX_BODY + 500), 100)), 413)

    def test_body_at_limit_is_fine(self):
        response = self.exchange(request_bytes('POST', '/echo?mode=raw', body=b'y' * MAX_BODY))
        self.assertEqual((response.status, response.body), (200, b'y' * MAX_BODY))


if __name__ == '__main__':
    unittest.main()
