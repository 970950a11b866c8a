"""The gateway extensions over HTTP/1.x (tests/h2/run.sh covers HTTP/2):
103 Early Hints, response trailers (TE: trailers), request trailers (a
chunked body), and server push, which HTTP/1.1 does not have."""

import json
import unittest

from support import ServerTestCase, chunked, request_bytes

EARLY_HINT = 'http.response.early_hint'
RESPONSE_TRAILERS = 'http.response.trailers'
REQUEST_TRAILERS = 'http.request.trailers'
PUSH = 'http.response.push'
LINK = '</style.css>; rel=preload; as=style'


def read_chunked(conversation):
    """The body and the trailer fields [(lower-case name, value)] of a chunked
    response whose head has been read."""
    parts = []
    while True:
        size = int(conversation._line().split(b';')[0], 16)
        if size == 0:
            break
        parts.append(conversation._exactly(size))
        if conversation._exactly(2) != b'\r\n':
            raise AssertionError('chunk not followed by CRLF')
    trailers = []
    while True:
        line = conversation._line()
        if not line:
            break
        name, _, value = line.decode('latin-1').partition(':')
        trailers.append((name.strip().lower(), value.strip()))
    return b''.join(parts), trailers


class ExtensionsTest(ServerTestCase):

    app = 'extapps:app'

    def json_of(self, response):
        self.assertEqual(response.status, 200, response)
        return json.loads(response.body.decode('utf-8'))

    # -- which keys are offered ------------------------------------------

    def test_http11_offers_early_hints_only(self):
        info = self.json_of(self.get('/extensions'))
        self.assertEqual(info['extensions'], [EARLY_HINT])
        self.assertTrue(info['wsgi.early_hints'])
        self.assertTrue(info['same_callable'])
        self.assertFalse(info['pushed'])

    def test_http10_offers_nothing(self):
        conversation = self.conversation()
        conversation.send(request_bytes('GET', '/extensions', version='HTTP/1.0'))
        info = self.json_of(conversation.read_response())
        self.assertEqual(info['extensions'], [])
        self.assertFalse(info['wsgi.early_hints'])

    def test_no_push_on_http11(self):
        info = self.json_of(self.get('/extensions', [('TE', 'trailers')]))
        self.assertNotIn(PUSH, info['extensions'])
        self.assertFalse(info['pushed'])

    def test_te_trailers_offers_response_trailers(self):
        info = self.json_of(self.get('/extensions', [('TE', 'trailers')]))
        self.assertEqual(info['extensions'], sorted([EARLY_HINT, RESPONSE_TRAILERS]))
        info = self.json_of(self.get('/extensions', [('TE', 'gzip;q=0.5, Trailers')]))
        self.assertIn(RESPONSE_TRAILERS, info['extensions'])

    def test_te_trailers_ignored_on_http10(self):
        conversation = self.conversation()
        conversation.send(request_bytes('GET', '/extensions', [('TE', 'trailers')],
                                        version='HTTP/1.0'))
        self.assertEqual(self.json_of(conversation.read_response())['extensions'], [])

    def test_chunked_body_offers_request_trailers(self):
        raw = request_bytes('POST', '/extensions', [('Transfer-Encoding', 'chunked')],
                            chunked(b'hello'))
        info = self.json_of(self.exchange(raw))
        self.assertEqual(info['extensions'], sorted([EARLY_HINT, REQUEST_TRAILERS]))

    def test_content_length_body_has_no_request_trailers(self):
        info = self.json_of(self.exchange(request_bytes('POST', '/extensions', body=b'hi')))
        self.assertEqual(info['extensions'], [EARLY_HINT])

    # -- 103 Early Hints -------------------------------------------------

    def test_early_hints_before_the_response(self):
        conversation = self.conversation()
        conversation.send(request_bytes('GET', '/hints'))
        version, status, reason, headers = conversation.read_head()
        self.assertEqual((version, status, reason), ('HTTP/1.1', 103, 'Early Hints'))
        self.assertEqual(headers, [('link', LINK), ('link', '</app0.js>; rel=preload; as=script')])
        response = conversation.read_response()
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header('link'), LINK)
        self.assertEqual(response.body, b'hinted\n')

    def test_early_hints_raw_bytes(self):
        conversation = self.conversation()
        conversation.send(request_bytes('GET', '/hints', headers=[('Connection', 'close')]))
        raw = conversation.read_until_closed()
        self.assertTrue(raw.startswith(b'HTTP/1.1 103 Early Hints\r\n'), raw[:200])
        self.assertLess(raw.index(b'\r\nLink: ' + LINK.encode('ascii')),
                        raw.index(b'HTTP/1.1 200 OK\r\n'))

    def test_several_rounds_of_hints_and_wsgi_spelling(self):
        conversation = self.conversation()
        conversation.send(request_bytes('GET', '/hints?n=3&via=wsgi'))
        for number in range(3):
            _, status, _, headers = conversation.read_head()
            self.assertEqual(status, 103)
            self.assertIn(('link', '</app%d.js>; rel=preload; as=script' % number), headers)
        response = conversation.read_response()
        self.assertEqual((response.status, response.body), (200, b'hinted\n'))
        # The connection stays usable.
        conversation.send(request_bytes('GET', '/extensions'))
        self.assertEqual(conversation.read_response().status, 200)

    def test_no_103_on_http10(self):
        conversation = self.conversation()
        conversation.send(request_bytes('GET', '/hints', version='HTTP/1.0'))
        raw = conversation.read_until_closed()
        self.assertNotIn(b' 103 ', raw)
        self.assertTrue(raw.startswith(b'HTTP/1.0 200 OK\r\n') or
                        raw.startswith(b'HTTP/1.1 200 OK\r\n'), raw[:100])
        self.assertTrue(raw.endswith(b'no hints\n'), raw)

    def test_early_hint_misuse_raises(self):
        response = self.get('/hints-errors')
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, b'started\nValueError TypeError RuntimeError\n')

    # -- response trailers -----------------------------------------------

    def trailer_response(self, path, headers=(('TE', 'trailers'),)):
        conversation = self.conversation()
        conversation.send(request_bytes('GET', path, list(headers)))
        version, status, _, head = conversation.read_head()
        self.assertEqual(status, 200)
        self.assertIn(('transfer-encoding', 'chunked'), head)
        self.assertNotIn('content-length', [name for name, _ in head])
        body, trailers = read_chunked(conversation)
        return conversation, body, trailers

    def test_trailers_after_a_streamed_body(self):
        _, body, trailers = self.trailer_response('/trailers?mode=stream')
        self.assertEqual(body, b'part 1\nbad=ValueError/ValueError\n')
        self.assertEqual(trailers, [('x-trailer', 'yes'), ('x-checksum', 'abc')])

    def test_trailers_set_after_the_last_chunk(self):
        _, body, trailers = self.trailer_response('/trailers?mode=late')
        self.assertEqual(body, b'part 1\nbad=ValueError/ValueError\n')
        self.assertEqual(trailers, [('x-trailer', 'yes'), ('x-checksum', 'abc')])

    def test_trailers_with_a_list_body(self):
        # The one-call path (respond with PORTICO_END) must still chunk.
        conversation, body, trailers = self.trailer_response('/trailers?mode=list')
        self.assertEqual(body, b'list body\nbad=ValueError/ValueError\n')
        self.assertEqual(trailers, [('x-trailer', 'yes'), ('x-checksum', 'abc')])
        conversation.send(request_bytes('GET', '/extensions'))
        self.assertEqual(conversation.read_response().status, 200)

    def test_a_later_call_replaces_the_trailers(self):
        _, _, trailers = self.trailer_response('/trailers?mode=replace')
        self.assertEqual(trailers, [('x-trailer', 'yes'), ('x-checksum', 'abc')])

    def test_no_trailers_without_te(self):
        response = self.get('/trailers?mode=stream')
        self.assertEqual(response.body, b'no trailers\n')

    # -- request trailers ------------------------------------------------

    def post_chunked(self, path, raw_body):
        raw = request_bytes('POST', path, [('Transfer-Encoding', 'chunked')]) + raw_body
        return self.json_of(self.exchange(raw))

    def test_request_trailers_after_the_body(self):
        result = self.post_chunked('/request-trailers',
                                   b'5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n')
        self.assertEqual(result['body'], 'hello')
        self.assertEqual([[n.lower(), v] for n, v in result['trailers']], [['x-checksum', 'abc']])
        self.assertEqual(result['again'], result['trailers'])

    def test_several_request_trailers(self):
        result = self.post_chunked('/request-trailers',
                                   b'3\r\nabc\r\n0\r\nX-One: 1\r\nX-Two: two words\r\n\r\n')
        self.assertEqual([[n.lower(), v] for n, v in result['trailers']],
                         [['x-one', '1'], ['x-two', 'two words']])

    def test_chunked_body_without_trailers(self):
        result = self.post_chunked('/request-trailers', chunked(b'x' * 100000, 4096))
        self.assertEqual(len(result['body']), 100000)
        self.assertEqual(result['trailers'], [])

    def test_request_trailers_after_a_long_body(self):
        data = b'y' * 300000
        raw_body = chunked(data, 10000)[:-2] + b'X-Checksum: abc\r\n\r\n'
        result = self.post_chunked('/request-trailers', raw_body)
        self.assertEqual(len(result['body']), len(data))
        self.assertEqual([[n.lower(), v] for n, v in result['trailers']], [['x-checksum', 'abc']])

    def test_request_trailers_before_reading_the_body(self):
        result = self.post_chunked('/request-trailers?read=no',
                                   b'5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n')
        self.assertEqual(result['early'], 'RuntimeError')
        self.assertEqual(result['body'], 'hello')  # nothing was lost
        self.assertEqual([[n.lower(), v] for n, v in result['trailers']], [['x-checksum', 'abc']])

    def test_request_trailers_absent_without_a_chunked_body(self):
        result = self.json_of(self.exchange(request_bytes('POST', '/request-trailers',
                                                          body=b'hello')))
        self.assertFalse(result['present'])


if __name__ == '__main__':
    unittest.main()
