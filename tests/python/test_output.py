"""The response side: list bodies, streamed bodies, write(), file_wrapper,
close(), HEAD."""

import hashlib
import json
import unittest

from support import ServerTestCase, request_bytes

STREAMED = b''.join(('chunk %d\n' % n).encode('ascii') for n in range(5))


class OutputTest(ServerTestCase):

    def test_list_body_gets_content_length(self):
        response = self.get('/status?code=201')
        self.assertEqual((response.status, response.reason), (201, 'Whatever'))
        self.assertEqual(response.header('content-length'), str(len(b'status body\n')))
        self.assertIsNone(response.header('transfer-encoding'))
        self.assertEqual(response.header('x-status'), '201')
        self.assertEqual(response.header('content-type'), 'text/plain')
        self.assertEqual(response.body, b'status body\n')

    def test_generator_is_chunked_on_http11(self):
        response = self.get('/stream?n=5')
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header('transfer-encoding'), 'chunked')
        self.assertIsNone(response.header('content-length'))
        self.assertEqual(response.body, STREAMED)

    def test_generator_is_close_delimited_on_http10(self):
        conversation = self.conversation()
        conversation.send(request_bytes('GET', '/stream?n=5', version='HTTP/1.0'))
        version, status, _, headers = conversation.read_head()
        self.assertEqual(status, 200)
        names = [name for name, _ in headers]
        self.assertNotIn('transfer-encoding', names)
        self.assertNotIn('content-length', names)
        self.assertEqual(conversation.read_until_closed(), STREAMED)

    def test_many_chunks(self):
        response = self.get('/stream?n=3000')
        self.assertEqual(response.body, b''.join(
            ('chunk %d\n' % n).encode('ascii') for n in range(3000)))

    def test_write_callable(self):
        response = self.get('/write')
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, b'written 1\nwritten 2\nreturned\n')

    def test_file_wrapper(self):
        response = self.get('/file-wrapper')
        self.assertEqual(response.status, 200)
        self.assertEqual(len(response.body), 20000 * 11)
        self.assertEqual(hashlib.sha1(response.body).hexdigest(), response.header('x-sha1'))

    def test_close_is_called(self):
        self.assertEqual(self.get('/closing?after-list').body, b'ab')
        # An error mid-stream still closes the iterable.
        conversation = self.conversation()
        conversation.send(request_bytes('GET', '/raise-midstream'))
        try:
            conversation.read_response()
        except EOFError:
            pass  # the connection is dropped mid-body: expected
        closed = json.loads(self.get('/closed').body.decode('utf-8'))
        self.assertIn('after-list', closed)
        self.assertIn('midstream', closed)

    def test_head(self):
        get = self.get('/status?code=200')
        conversation = self.conversation()
        conversation.send(request_bytes('HEAD', '/status?code=200'))
        head = conversation.read_response('HEAD')
        self.assertEqual(head.status, 200)
        self.assertEqual(head.header('content-length'), get.header('content-length'))
        self.assertEqual(head.body, b'')
        # No body bytes leaked: the next answer on the socket parses cleanly.
        conversation.send(request_bytes('GET', '/status?code=202'))
        self.assertEqual(conversation.read_response().status, 202)

    def test_head_of_a_stream(self):
        conversation = self.conversation()
        conversation.send(request_bytes('HEAD', '/stream?n=5'))
        self.assertEqual(conversation.read_response('HEAD').status, 200)
        conversation.send(request_bytes('GET', '/status?code=203'))
        self.assertEqual(conversation.read_response().status, 203)

    def test_no_body_statuses(self):
        for code in (204, 304):
            conversation = self.conversation()
            conversation.send(request_bytes('GET', '/status?code=%d' % code))
            response = conversation.read_response()
            self.assertEqual(response.status, code)
            # Whatever the app returned, no body goes out: the next request parses.
            conversation.send(request_bytes('GET', '/status?code=200'))
            self.assertEqual(conversation.read_response().body, b'status body\n')


class ConnectionTest(ServerTestCase):

    def test_keep_alive(self):
        conversation = self.conversation()
        for n in range(5):
            conversation.send(request_bytes('GET', '/status?code=%d' % (200 + n)))
            self.assertEqual(conversation.read_response().status, 200 + n)
        conversation.send(request_bytes('GET', '/stream?n=2'))
        self.assertEqual(conversation.read_response().body, b'chunk 0\nchunk 1\n')
        conversation.send(request_bytes('POST', '/echo?mode=raw', body=b'last'))
        self.assertEqual(conversation.read_response().body, b'last')

    def test_pipelining(self):
        conversation = self.conversation()
        conversation.send(request_bytes('GET', '/slow?s=0.3') +
                          request_bytes('POST', '/echo?mode=raw', body=b'second') +
                          request_bytes('GET', '/stream?n=1'))
        self.assertEqual(conversation.read_response().body, b'slow done\n')
        self.assertEqual(conversation.read_response().body, b'second')
        self.assertEqual(conversation.read_response().body, b'chunk 0\n')

    def test_http10_closes_without_keep_alive(self):
        conversation = self.conversation()
        conversation.send(request_bytes('GET', '/status?code=200', version='HTTP/1.0'))
        self.assertEqual(conversation.read_response().status, 200)
        self.assertTrue(conversation.is_closed())

    def test_connection_close_is_honoured(self):
        conversation = self.conversation()
        conversation.send(request_bytes('GET', '/status?code=200', [('Connection', 'close')]))
        self.assertEqual(conversation.read_response().status, 200)
        self.assertTrue(conversation.is_closed())

    def test_concurrent_slow_requests_use_several_threads(self):
        """Four 0.5 s requests at once on 4 threads take about 0.5 s, not 2."""
        import time
        conversations = [self.conversation() for _ in range(4)]
        started = time.time()
        for conversation in conversations:
            conversation.send(request_bytes('GET', '/slow?s=0.5'))
        for conversation in conversations:
            self.assertEqual(conversation.read_response().body, b'slow done\n')
        self.assertLess(time.time() - started, 1.9)


if __name__ == '__main__':
    unittest.main()
