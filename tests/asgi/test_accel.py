"""The library's Python-object helpers (capi/pyaccel.c) against the
binding's pure-Python code they replace: the same scopes from the same poll
batches (build_scope), the same refusals, and pco_py_respond leaving to
encode_fields exactly what it cannot take. No server: the batches are made
here in the layout of portico.h's event mode."""

import ctypes
import os
import struct
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), 'bindings', 'python'))

from portico import _lib, asgi  # noqa: E402
from portico.errors import ERR_DONE, ERR_INVALID  # noqa: E402

EV_REQUEST, EV_WS = asgi.EV_REQUEST, asgi.EV_WS


def request_event(request_id, fields, flags=1, body=b''):
    head = b'\0'.join(fields)
    payload = struct.pack('<QII', request_id, flags, len(head)) + head + body
    return struct.pack('<QHhI', request_id, EV_REQUEST, 0, len(payload)) + payload


def other_event(request_id, kind, code, payload):
    return struct.pack('<QHhI', request_id, kind, code, len(payload)) + payload


def helpers():
    """The Accelerator; a skip where turned off, a failure where missing."""
    if os.environ.get('PORTICO_PY_ACCEL') == '0':
        raise unittest.SkipTest('the C helpers are off (PORTICO_PY_ACCEL=0)')
    accel = asgi.accelerator(_lib.load())
    if accel is None:
        raise AssertionError('the library has no pco_py_* helpers usable from this interpreter')
    return accel


BASE = [b'GET', b'/a/b', b'x=1', b'HTTP/1.1', b'http', b'10.0.0.1', b'50000', b'10.0.0.2', b'8000']


class DecoderTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.accel = helpers()

    def decode(self, batch, root_path='', addrs=None):
        buf = ctypes.create_string_buffer(batch, len(batch))
        out = []
        n = self.accel.decode(ctypes.addressof(buf), len(batch), out, {} if addrs is None else addrs, root_path)
        self.assertEqual(n, len(out))
        return out

    def python_scope(self, fields, flags=1, root_path=''):
        scope = asgi.build_scope(fields, flags, None, root_path)
        return scope

    def assertSameScope(self, fields, root_path=''):
        [(request_id, kind, flags, scope, body)] = self.decode(request_event(9, fields), root_path)
        self.assertEqual((request_id, kind, flags), (9, EV_REQUEST, 1))
        asgi.finish_scope(scope, None)  # as the binding does after the decoder
        self.assertEqual(scope, self.python_scope(fields, root_path=root_path))
        return scope

    def test_scopes_match_build_scope(self):
        many = [b'X-Header-%d' % i for i in range(300)]
        cases = [
            BASE + [b'Host', b'example.com', b'Accept', b'*/*'],
            [b'POST', b'/caf\xc3\xa9', b'', b'HTTP/1.0', b'https'] + BASE[5:],
            [b'PROPFIND', b'/%7Euser/a%20b', b'', b'HTTP/2.0', b'https'] + BASE[5:] + [b'te', b'trailers'],
            [b'GET', b'/\xff\xfe', b'', b'HTTP/3', b'http', b'', b'', b'', b''],  # a Unix socket, odd version
            BASE + [x for name in many for x in (name, b'v')],  # past the stack's fields
            BASE + [b'Empty', b''],
        ]
        for fields in cases:
            self.assertSameScope(fields)
        self.assertEqual(self.assertSameScope(BASE, root_path='/api')['root_path'], '/api')

    def test_body_flags_and_other_events(self):
        batch = (request_event(3, BASE, flags=0x21, body=b'payload') +
                 other_event(3, EV_WS, 8, b'\x03\xe8bye') +
                 other_event(4, asgi.EV_WRITTEN, -4, b''))
        out = self.decode(batch)
        self.assertEqual(out[0][0:3], (3, EV_REQUEST, 0x21))
        self.assertEqual(out[0][4], b'payload')
        start, end = out[1][3], out[1][4]
        self.assertEqual(out[1][0:3], (3, EV_WS, 8))  # a close: the binding decodes it
        self.assertEqual(batch[start:end], b'\x03\xe8bye')
        self.assertEqual(out[2][0:3], (4, asgi.EV_WRITTEN, -4))
        self.assertEqual(out[2][3], out[2][4])

    def test_websocket_messages_become_asgi_messages(self):
        text = 'h\u00e9llo \u2603'.encode('utf-8')
        batch = (other_event(5, EV_WS, asgi.WS_TEXT, text) + other_event(5, EV_WS, asgi.WS_BINARY, b'\x00\xff') +
                 other_event(5, EV_WS, asgi.WS_TEXT, b'') + other_event(5, EV_WS, asgi.WS_TEXT, b'bad \xff'))
        out = self.decode(batch)
        self.assertEqual(out[0], (5, asgi.EV_WS_MESSAGE, len(text),
                                  {'type': 'websocket.receive', 'text': 'h\u00e9llo \u2603'}, None))
        self.assertEqual(out[1], (5, asgi.EV_WS_MESSAGE, 2, {'type': 'websocket.receive', 'bytes': b'\x00\xff'}, None))
        self.assertEqual(out[2], (5, asgi.EV_WS_MESSAGE, 0, {'type': 'websocket.receive', 'text': ''}, None))
        # Not UTF-8 (the library checks text frames, so this is a broken
        # batch): left in the batch for the binding, which reports it.
        self.assertEqual(out[3][0:3], (5, EV_WS, asgi.WS_TEXT))
        self.assertEqual(batch[out[3][3]:out[3][4]], b'bad \xff')

    def test_address_pairs_are_cached_and_bounded(self):
        addrs = {}
        first = self.decode(request_event(1, BASE), addrs=addrs)[0][3]
        second = self.decode(request_event(2, BASE), addrs=addrs)[0][3]
        self.assertIs(first['client'], second['client'])
        self.assertEqual(len(addrs), 1)
        for port in range(5000):
            fields = BASE[:6] + [str(port).encode()] + BASE[7:]
            self.decode(request_event(port, fields), addrs=addrs)
        self.assertLessEqual(len(addrs), 4096)

    def test_malformed_batches_are_refused(self):
        good = request_event(1, BASE)
        for batch in (good[:-3], good[:10], request_event(1, BASE[:8]), request_event(1, BASE + [b'lone']),
                      request_event(1, BASE[:6] + [b'99999999999'] + BASE[7:])):
            with self.assertRaises(ValueError):
                self.decode(batch)
        self.assertEqual(self.decode(b''), [])


class RespondTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.accel = helpers()

    def respond(self, headers, body=b'hi', line=b'200 OK'):
        return self.accel.respond(123456789, line, headers, body, 1)

    def test_pairs_of_bytes_reach_the_library(self):
        # No such request: the library's own answer, not the fallback.
        for headers in ([(b'a', b'1')], ((b'a', b'1'), [b'b', b'2']), [], ()):
            self.assertIn(self.respond(headers), (ERR_DONE, ERR_INVALID, asgi.ERR_CLOSED))
        big = [(b'x-%d' % i, b'v' * 100) for i in range(200)]  # past the stack buffer
        self.assertNotEqual(self.respond(big), asgi.PY_FALLBACK)

    def test_the_rest_is_left_to_encode_fields(self):
        for headers in ([(bytearray(b'a'), b'1')], [('a', '1')], [(b'a', b'1', b'extra')],
                        iter([(b'a', b'1')]), [(b'a', b'x\0y')], [b'ab'], {b'a': b'1'}):
            self.assertEqual(self.respond(headers), asgi.PY_FALLBACK, headers)
        self.assertEqual(self.respond([], body=bytearray(b'x')), asgi.PY_FALLBACK)


class BuiltinTests(unittest.TestCase):
    """The helpers are builtin functions: their arguments are checked as
    Python's own builtins check them."""

    @classmethod
    def setUpClass(cls):
        cls.accel = helpers()

    def test_wrong_arguments_raise_type_errors(self):
        accel = self.accel
        for call in (lambda: accel.respond(1, b'200 OK', [], b''),
                     lambda: accel.respond('1', b'200 OK', [], b'', 1),
                     lambda: accel.respond(1, b'200 OK', [], b'', None),
                     lambda: accel.decode(None, 0, [], {}, ''),
                     lambda: accel.poll(0, 0, 0, [], {})):
            self.assertRaises(TypeError, call)
        with self.assertRaises(OverflowError):
            accel.respond(-1, b'200 OK', [], b'', 1)
        for data in ('text', bytearray(b'x'), None):
            self.assertRaises(TypeError, accel.ws_send, 1, 1, data)

    def test_ws_send_of_no_websocket_is_refused(self):
        self.assertEqual(self.accel.ws_send(1 << 62, 1, b'hello'), ERR_INVALID)

    def test_respond_later_queues_what_respond_would_take(self):
        accel = self.accel
        queue = accel.new_queue()
        for headers in ([(b'a', b'1')], ((b'a', b'1'), [b'b', b'2']), [], [(b'x-%d' % i, b'v' * 100) for i in range(200)]):
            self.assertEqual(accel.respond_later(queue, 123456789, b'200 OK', headers, b'hi', 1), 0)
        self.assertEqual(accel.respond_later(queue, 1, b'200 OK', [], b'x' * 65536, 1), 0)
        # Not queued: what respond leaves to encode_fields, and big bodies.
        for headers, body in (([(b'a', b'x\0y')], b''), ([('a', '1')], b''), ([], bytearray(b'x')),
                              ([], b'x' * 65537)):
            self.assertEqual(accel.respond_later(queue, 2, b'200 OK', headers, body, 1), asgi.PY_FALLBACK)
        # No such requests: nothing refused for its head, and the queue is empty after.
        self.assertEqual(accel.flush(queue), [])
        self.assertEqual(accel.flush(queue), [])

    def test_a_queue_is_only_what_new_queue_made(self):
        for bad in (None, b'queue', object()):
            with self.assertRaises((TypeError, ValueError)):
                self.accel.respond_later(bad, 1, b'200 OK', [], b'', 1)
            with self.assertRaises((TypeError, ValueError)):
                self.accel.flush(bad)

    def test_poll_of_no_server_is_refused(self):
        buf = ctypes.create_string_buffer(64)
        out = []
        self.assertEqual(self.accel.poll(0, ctypes.addressof(buf), 64, out, {}, ''), ERR_INVALID)
        self.assertEqual(out, [])


if __name__ == '__main__':
    unittest.main()
