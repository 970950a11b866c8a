"""wsgi.input: reading the request body in every way PEP 3333 allows."""

import hashlib
import json
import os
import unittest

from support import ServerTestCase, chunked, request_bytes

BIG = os.urandom(5 * 1024 * 1024)
LINES = b''.join(('line number %d\n' % n).encode('ascii') for n in range(2000)) + b'no newline'


def summary(data, **extra):
    result = {'length': len(data), 'sha1': hashlib.sha1(data).hexdigest()}
    result.update(extra)
    return result


class InputTest(ServerTestCase):

    def post(self, path, body, headers=(), send_chunked=False):
        if send_chunked:
            raw = request_bytes('POST', path, [('Transfer-Encoding', 'chunked')] + list(headers),
                                chunked(body))
        else:
            raw = request_bytes('POST', path, headers, body)
        response = self.exchange(raw)
        self.assertEqual(response.status, 200, response)
        return json.loads(response.body.decode('utf-8'))

    def test_read_in_sizes(self):
        for size in ('1', '7', '8192', '100000'):
            result = self.post('/echo?mode=chunks&size=' + size, LINES)
            self.assertEqual(result, summary(LINES, after_end=0), size)

    def test_read_without_size(self):
        self.assertEqual(self.post('/read-all', LINES), summary(LINES))

    def test_readline(self):
        self.assertEqual(self.post('/echo?mode=lines', LINES), summary(LINES, lines=2001))

    def test_readline_with_limit(self):
        # 'line number 1234\n' is 17 bytes: a limit of 10 splits every line in two.
        result = self.post('/echo-unvalidated?mode=limited-lines&size=10', LINES)
        self.assertEqual((result['length'], result['sha1']), (len(LINES), summary(LINES)['sha1']))
        self.assertGreater(result['lines'], 2001)

    def test_iteration(self):
        self.assertEqual(self.post('/echo?mode=iter', LINES), summary(LINES, lines=2001))

    def test_readlines(self):
        self.assertEqual(self.post('/echo?mode=readlines', LINES), summary(LINES, lines=2001))

    def test_empty_body(self):
        self.assertEqual(self.post('/echo', b''), summary(b'', after_end=0))
        self.assertEqual(self.post('/echo?mode=lines', b''), summary(b'', lines=0))

    def test_big_body_with_content_length(self):
        self.assertEqual(self.post('/echo?mode=chunks&size=65536', BIG),
                         summary(BIG, after_end=0))

    def test_big_body_chunked(self):
        self.assertEqual(self.post('/echo?mode=chunks&size=100000', BIG, send_chunked=True),
                         summary(BIG, after_end=0))

    def test_big_body_read_whole(self):
        self.assertEqual(self.post('/read-all', BIG, send_chunked=True), summary(BIG))

    def test_chunked_lines(self):
        self.assertEqual(self.post('/echo?mode=lines', LINES, send_chunked=True),
                         summary(LINES, lines=2001))

    def test_body_echoed_back(self):
        raw = request_bytes('POST', '/echo?mode=raw', body=b'\x00\xffbinary\r\n')
        self.assertEqual(self.exchange(raw).body, b'\x00\xffbinary\r\n')

    def test_body_sent_slowly(self):
        """Bytes that arrive after the head come through portico_request_read."""
        conversation = self.conversation()
        conversation.send(request_bytes('POST', '/echo?mode=lines',
                                        [('Content-Length', str(len(LINES)))]))
        for start in range(0, len(LINES), 5000):
            conversation.send(LINES[start:start + 5000])
        response = conversation.read_response()
        self.assertEqual(json.loads(response.body.decode('utf-8')), summary(LINES, lines=2001))


class ExpectContinueTest(ServerTestCase):

    def expect_request(self, path, body):
        return request_bytes('POST', path, [('Expect', '100-continue'),
                                            ('Content-Length', str(len(body)))])

    def test_continue_sent_when_the_app_reads(self):
        conversation = self.conversation()
        conversation.send(self.expect_request('/echo', b'payload'))
        interim = conversation.read_response()
        self.assertEqual(interim.status, 100)
        conversation.send(b'payload')
        final = conversation.read_response()
        self.assertEqual(final.status, 200)
        self.assertEqual(json.loads(final.body.decode('utf-8')),
                         summary(b'payload', after_end=0))

    def test_no_continue_when_the_app_does_not_read(self):
        conversation = self.conversation()
        conversation.send(self.expect_request('/ignore-body', b'payload'))
        response = conversation.read_response()
        self.assertEqual(response.status, 200)  # straight to the answer, no 100
        self.assertEqual(response.body, b'not reading your body\n')


if __name__ == '__main__':
    unittest.main()
