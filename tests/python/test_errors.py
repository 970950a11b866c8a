"""Application errors: PEP 3333's exc_info rules, and what the client gets."""

import unittest

from support import ServerTestCase, request_bytes


class AppErrorTest(ServerTestCase):

    def test_exception_before_start_response(self):
        conversation = self.conversation()
        conversation.send(request_bytes('GET', '/raise-before'))
        response = conversation.read_response()
        self.assertEqual(response.status, 500)
        self.assertEqual(response.body, b'Internal Server Error\n')
        # The answer was complete, so the connection carries on.
        conversation.send(request_bytes('GET', '/status?code=200'))
        self.assertEqual(conversation.read_response().status, 200)
        self.assertIn('boom before start_response', self.server.output())
        self.assertIn('Traceback', self.server.output())

    def test_exception_after_start_response_before_body(self):
        response = self.get('/raise-after-start')
        self.assertEqual(response.status, 500)
        self.assertEqual(self.get('/status?code=200').status, 200)

    def test_exception_mid_stream_drops_the_connection(self):
        conversation = self.conversation()
        conversation.send(request_bytes('GET', '/raise-midstream'))
        version, status, _, headers = conversation.read_head()
        self.assertEqual(status, 200)
        # The body cannot be completed honestly: no terminating chunk, just EOF.
        rest = conversation.read_until_closed()
        self.assertIn(b'first chunk', rest)
        self.assertFalse(rest.endswith(b'0\r\n\r\n'), rest)
        self.assertEqual(self.get('/status?code=200').status, 200)

    def test_exc_info_replaces_headers(self):
        response = self.get('/exc-info')
        self.assertEqual(response.status, 503)
        self.assertEqual(response.header('x-handled'), 'yes')
        self.assertEqual(response.body, b'handled error\n')

    def test_exc_info_after_send_reraises(self):
        conversation = self.conversation()
        conversation.send(request_bytes('GET', '/exc-info-after-send'))
        version, status, _, headers = conversation.read_head()
        self.assertEqual(status, 200)
        rest = conversation.read_until_closed()
        self.assertIn(b'partial', rest)
        self.assertNotIn(b'never sent', rest)
        self.assertIn('too late', self.server.output())

    def test_invalid_responses_become_500(self):
        for kind in ('crlf', 'status', 'bytes-body', 'twice'):
            response = self.get('/bad-header?' + kind)
            self.assertEqual(response.status, 500, kind)
            self.assertNotIn('injected', [name for name, _ in response.headers])
            self.assertNotEqual(response.body, b'should not be seen\n')

    def test_server_survives_many_errors(self):
        for _ in range(20):
            self.assertEqual(self.get('/raise-before').status, 500)
        self.assertEqual(self.get('/status?code=200').status, 200)


if __name__ == '__main__':
    unittest.main()
