"""The library's Python-object helpers (capi/pyaccel.c) against the
binding's pure-Python code they replace: the same scopes from the same poll
batches (build_scope), the same refusals, and pco_py_respond leaving to
encode_fields exactly what it cannot take. The batches are made here in the
layout of portico.h's event mode. FaultTests make each allocation and
library call of the helpers fail in turn (pyaccel.c's test doors, turned on
by PORTICO_PY_TEST_HOOKS): nothing may crash, leak, or lose an event, also
on a real server over a socket."""

import ctypes
import gc
import json
import logging
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), 'bindings', 'python'))

from portico import _lib, asgi  # noqa: E402
from portico.errors import ERR_DONE, ERR_INVALID, ERR_INTERNAL  # noqa: E402

EV_REQUEST, EV_WS = asgi.EV_REQUEST, asgi.EV_WS


def request_event(request_id, fields, flags=1, body=b''):
    head = b'\0'.join(fields)
    payload = struct.pack('<QII', request_id, flags, len(head)) + head + body
    return struct.pack('<QHhI', request_id, EV_REQUEST, 0, len(payload)) + payload


def other_event(request_id, kind, code, payload):
    return struct.pack('<QHhI', request_id, kind, code, len(payload)) + payload


def helpers():
    """The Accelerator; a skip where turned off, a failure where missing.
    Made with pyaccel.c's test doors in: they fail nothing until inject()
    arms them."""
    if os.environ.get('PORTICO_PY_ACCEL') == '0':
        raise unittest.SkipTest('n/a: the C helpers are off (PORTICO_PY_ACCEL=0)')
    saved = os.environ.get(HOOKS)
    os.environ[HOOKS] = '0'
    try:
        accel = asgi.accelerator(_lib.load())
    finally:
        if saved is None:
            del os.environ[HOOKS]
        else:
            os.environ[HOOKS] = saved
    if accel is None:
        raise AssertionError('the library has no pco_py_* helpers usable from this interpreter')
    return accel


HOOKS = 'PORTICO_PY_TEST_HOOKS'
# inject(allocation, call_kind, call, call_result)'s kinds of library call (pyaccel.c CALL_*).
CALL_POLL, CALL_RESPOND, CALL_WS_SEND, CALL_RESPOND_BATCH, CALL_ABORT = 1, 2, 3, 4, 5


def injector():
    """pyaccel.c's inject() builtin: only made where the doors are in."""
    pylib = ctypes.PyDLL(_lib.load()._name)
    make = pylib.pco_py_functions
    make.restype = ctypes.c_int
    make.argtypes = [ctypes.py_object]
    functions = {}
    make(functions)
    if 'inject' not in functions:
        raise AssertionError('no inject(): the helpers were made in this process before %s was set' % HOOKS)
    return functions['inject']


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
                     lambda: accel.poll(0, 0, 0, [], {}, '')):
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
        pending = (ctypes.c_size_t * 2)()
        out = []
        self.assertEqual(self.accel.poll(0, ctypes.addressof(buf), 64, out, {}, '', ctypes.addressof(pending)),
                         ERR_INVALID)
        self.assertEqual((out, list(pending)), ([], [0, 0]))

# The texts pyaccel.c interns at init (interned_text).
INTERNED = ['type', 'asgi', 'http_version', 'method', 'scheme', 'path', 'raw_path', 'query_string',
            'root_path', 'headers', 'client', 'server', 'extensions', 'http', '1.1', '2', '1.0',
            'GET', 'POST', 'HEAD', 'http', 'https', 'text', 'bytes', 'websocket.receive']

# Run in a fresh interpreter (an init that succeeded cannot fail again):
# pco_py_init with its Nth allocation failing, N = 1, 2, ... until it works.
INIT_CHILD = r"""
import ctypes, gc, json, os, sys
from portico import _lib, asgi
init = ctypes.PyDLL(_lib.load()._name).pco_py_init
init.restype = ctypes.c_int
init.argtypes = [ctypes.py_object, ctypes.py_object]
names = [sys.intern(text) for text in json.loads(sys.argv[1])]

def state():
    gc.collect()
    return (tuple(sys.getrefcount(name) for name in names), sys.getrefcount(asgi.ASGI_VERSION),
            sum(1 for o in gc.get_objects() if type(o) is list))

failures, changed, before, now = 0, [], None, None
before = state()
for n in range(1, 200):
    os.environ['PORTICO_PY_TEST_HOOKS'] = str(n)
    try:
        rc = init(asgi.ASGI_VERSION, None)
    except MemoryError:
        failures += 1
        now = state()
        if now != before:
            changed.append([n, now])
        continue
    break
print(json.dumps({'failures': failures, 'rc': rc, 'changed': changed[:3], 'before': before}))
"""


def messages(events, batch):
    """EVENTS with each WebSocket text or binary message as its ASGI dict:
    where the decoder could not make the dict (it clears that failure), it
    leaves the message in the batch for the binding, which is no loss."""
    made = []
    for event in events:
        if event[1] == EV_WS and event[2] in (asgi.WS_TEXT, asgi.WS_BINARY):
            payload = batch[event[3]:event[4]]
            key, value = ('text', payload.decode('utf-8')) if event[2] == asgi.WS_TEXT else ('bytes', payload)
            event = (event[0], asgi.EV_WS_MESSAGE, len(payload), {'type': 'websocket.receive', key: value}, None)
        made.append(event)
    return made


class FaultTests(unittest.TestCase):
    """Each allocation (Python's or malloc's) of a helper, and each call into
    the library, made to fail in turn: no crash, no leak, nothing made after
    the failure, no event lost (pyaccel.c's rule for a batch that fails
    half-way: poll raises with OUT holding the events before the failure and
    keeps the rest pending in the buffer for the next poll)."""

    @classmethod
    def setUpClass(cls):
        cls.accel = helpers()
        cls.inject = staticmethod(injector())

    def tearDown(self):
        self.inject(0, 0, 0, 0)

    def test_a_failed_init_keeps_nothing(self):
        bindings = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'bindings', 'python')
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([bindings] + [p for p in os.environ.get('PYTHONPATH', '').split(
            os.pathsep) if p]))
        child = subprocess.run([sys.executable, '-c', INIT_CHILD, json.dumps(INTERNED)], env=env, timeout=60,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = child.stdout.decode()
        self.assertEqual(child.returncode, 0, out)
        result = json.loads(out.strip().splitlines()[-1])
        self.assertEqual(result['rc'], 1, out)
        self.assertGreaterEqual(result['failures'], len(INTERNED) + 1)  # every allocation of init failed once
        self.assertEqual(result['changed'], [], 'a failed init kept references (before: %r)' % (result['before'],))

    def batch(self):
        text = 'h\u00e9llo'.encode('utf-8')
        return (request_event(1, BASE + [b'Host', b'a.example', b'Accept', b'*/*'], body=b'xyz') +
                other_event(1, EV_WS, asgi.WS_TEXT, text) +
                request_event(2, [b'POST', b'/caf\xc3\xa9', b'q', b'HTTP/2.0', b'https'] + BASE[5:7] +
                              [b'10.0.0.3', b'443', b'Te', b'trailers']) +
                other_event(3, asgi.EV_WRITTEN, 0, b'') +
                other_event(1, EV_WS, asgi.WS_BINARY, b'\x00\xff') +
                other_event(2, asgi.EV_BODY, 5, b'hello'))

    def drain(self, buf, size, pending):
        """Polls the batch left pending in BUF until none is: (events, errors)."""
        events, errors = [], 0
        for _ in range(100):
            out = []
            try:
                n = self.accel.poll(0, ctypes.addressof(buf), size, out, {}, '/r', ctypes.addressof(pending))
                self.assertEqual(n, size)
            except MemoryError:
                errors += 1
            events.extend(out)
            if pending[1] == 0:
                return events, errors
        self.fail('the batch stayed pending')

    def sweep(self, batch, buf, pending, expected):
        """Decodes BATCH with its Nth allocation failing, N = 1, 2, ...
        until it makes fewer than N; returns that N."""
        for n in range(1, 1000):
            pending[0], pending[1] = 0, len(batch)  # as if the library had just handed it over
            self.inject(n, 0, 0, 0)
            events, errors = self.drain(buf, len(batch), pending)
            allocations, calls, with_error = self.inject(0, 0, 0, 0)
            self.assertEqual(messages(events, batch), expected, 'allocation %d failed' % n)
            self.assertEqual(with_error, 0, 'made %d objects after allocation %d failed' % (with_error, n))
            self.assertEqual(calls, 0)  # a pending batch is decoded without asking the library
            self.assertLessEqual(errors, 1)  # none where a message's dict failed: left to the binding
            if allocations < n:
                return n
        self.fail('allocations without end')

    def test_a_batch_failing_at_each_allocation_loses_no_event(self):
        batch = self.batch()
        buf = ctypes.create_string_buffer(batch, len(batch))
        pending = (ctypes.c_size_t * 2)()
        expected = []
        self.assertEqual(self.accel.decode(ctypes.addressof(buf), len(batch), expected, {}, '/r'), 6)
        tracemalloc.start()
        try:
            self.sweep(batch, buf, pending, expected)  # the second sweep is measured: what the first leaves is no leak
            gc.collect()
            start = tracemalloc.get_traced_memory()[0]
            n = self.sweep(batch, buf, pending, expected)
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - start
        finally:
            tracemalloc.stop()
        self.assertGreater(n, 100)  # the sweep went past every allocation of the batch
        self.assertLess(grown, 512, 'the failed decodes leaked %d bytes' % grown)

    def test_decode_keeps_the_events_before_a_failure(self):
        batch = self.batch()
        buf = ctypes.create_string_buffer(batch, len(batch))
        expected = []
        self.accel.decode(ctypes.addressof(buf), len(batch), expected, {}, '')
        for n in range(1, 1000):
            out = []
            self.inject(n, 0, 0, 0)
            try:
                self.accel.decode(ctypes.addressof(buf), len(batch), out, {}, '')
            except MemoryError:
                pass  # all six in OUT if only the count failed
            self.assertEqual(messages(out, batch), expected[:len(out)])
            allocations, calls, with_error = self.inject(0, 0, 0, 0)
            self.assertEqual(with_error, 0)  # nothing made after a failed allocation
            if allocations < n:
                break
        self.assertGreater(n, 100)

    def test_a_malformed_record_is_reported_and_the_rest_delivered(self):
        batch = self.batch()
        bad = request_event(7, BASE[:6] + [b'99999999999'] + BASE[7:])  # a port that is no port
        whole = bad + batch
        buf = ctypes.create_string_buffer(whole, len(whole))
        pending = (ctypes.c_size_t * 2)(0, len(whole))
        out = []
        with self.assertRaises(ValueError):
            self.accel.poll(0, ctypes.addressof(buf), len(whole), out, {}, '', ctypes.addressof(pending))
        self.assertEqual((out, pending[0], pending[1]), ([], len(bad), len(whole)))
        self.accel.poll(0, ctypes.addressof(buf), len(whole), out, {}, '', ctypes.addressof(pending))
        self.assertEqual([e[:3] for e in out], [(1, EV_REQUEST, 1), (1, asgi.EV_WS_MESSAGE, 6), (2, EV_REQUEST, 1),
                                               (3, asgi.EV_WRITTEN, 0), (1, asgi.EV_WS_MESSAGE, 2),
                                               (2, asgi.EV_BODY, 5)])
        self.assertEqual(list(pending), [0, 0])

    def test_an_answer_failing_at_each_allocation_leaves_the_queue_whole(self):
        accel = self.accel
        queue = accel.new_queue()
        headers = [(b'X-%d' % i, b'v' * 100) for i in range(100)]  # past the stack buffer and the queue's room
        for n in range(1, 100):
            self.inject(n, 0, 0, 0)
            try:
                queued = accel.respond_later(queue, 1 << 60, b'200 OK', headers, b'body', 1)
                self.assertEqual(queued, 0)
            except MemoryError:
                queued = None
            try:
                self.assertIn(accel.respond(1 << 60, b'200 OK', headers, b'body', 1), (ERR_INVALID, ERR_DONE))
            except MemoryError:
                pass
            self.inject(0, 0, 0, 0)
            self.assertEqual(accel.flush(queue), [])  # a queue left malformed would be refused (ValueError)
            if queued is not None and n > 10:
                break
            queue = accel.new_queue() if n % 2 else queue  # a fresh queue grows from nothing
        self.assertEqual(self.inject(0, 0, 0, 0)[2], 0)

    def test_a_refused_queue_is_not_dropped_unanswered(self):
        # No server: the ids are unknown, so each abort answers ERR_INVALID;
        # what counts is that each queued request is aborted before the error.
        queue = self.accel.new_queue()
        for request_id in (11, 12, 13):
            self.assertEqual(self.accel.respond_later(queue, request_id, b'200 OK', [], b'x', 1), 0)
        self.inject(0, CALL_RESPOND_BATCH, 1, ERR_INTERNAL)
        with self.assertRaises(ValueError):
            self.accel.flush(queue)
        allocations, calls, with_error = self.inject(0, 0, 0, 0)
        self.assertEqual((calls, with_error), (4, 0))  # the refused batch, then one abort per request
        self.assertEqual(self.accel.flush(queue), [])
        self.assertEqual(self.inject(0, 0, 0, 0)[1], 0)  # the queue was emptied: nothing to send


TIMEOUT = 5.0


class Served:
    """An ASGI app served in this process (the doors are this process's)."""

    def __init__(self):
        self.entered = threading.Event()
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.records = []
        handler = logging_handler(self.records)
        logger = logging.getLogger('portico')
        logger.addHandler(handler)  # before serve: its configure_logging then leaves stderr alone
        self.handler = handler
        self.thread = threading.Thread(target=asgi.serve, args=(self.app, '127.0.0.1:0'),
                                       kwargs={'lifespan': 'off', 'on_ready': self.on_ready, 'stop': self.stop},
                                       daemon=True)
        self.thread.start()
        if not self.ready.wait(20):
            raise AssertionError('the server did not start')

    def on_ready(self, addresses):
        self.port = int(addresses[0].rsplit(':', 1)[1].strip('/'))
        self.ready.set()

    async def app(self, scope, receive, send):
        if scope['path'] == '/block':
            self.entered.set()
            time.sleep(0.3)  # holds the loop: requests sent meanwhile reach it in one poll batch
        body = scope['path'].encode()
        await send({'type': 'http.response.start', 'status': 200,
                    'headers': [(b'content-length', str(len(body)).encode())]})
        await send({'type': 'http.response.body', 'body': body})

    def close(self):
        self.stop.set()
        self.thread.join(20)
        logging.getLogger('portico').removeHandler(self.handler)

    def connect(self, path):
        s = socket.create_connection(('127.0.0.1', self.port), timeout=TIMEOUT)
        s.sendall(('GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' % path).encode())
        return s

    @staticmethod
    def status(s):
        """The answer's status on socket S, None if none came in TIMEOUT."""
        data = b''
        deadline = time.time() + TIMEOUT
        try:
            while time.time() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        finally:
            s.close()
        return int(data.split(b' ', 2)[1]) if data.startswith(b'HTTP/1.1 ') else None


def logging_handler(records):
    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())
    return Collect()


class ServerFaultTests(unittest.TestCase):
    """The same failures on a real server: every request is answered."""

    @classmethod
    def setUpClass(cls):
        cls.accel = helpers()
        cls.inject = staticmethod(injector())
        cls.server = Served()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def tearDown(self):
        self.inject(0, 0, 0, 0)

    def test_a_refused_answer_queue_ends_its_requests_with_500(self):
        self.assertEqual(Served.status(self.server.connect('/warm')), 200)
        self.inject(0, CALL_RESPOND_BATCH, 1, ERR_INTERNAL)
        self.assertEqual(Served.status(self.server.connect('/refused')), 500)
        self.assertIn('answering the queued responses failed', self.server.records)
        self.assertEqual(Served.status(self.server.connect('/after')), 200)

    def test_a_batch_failing_half_way_loses_no_request(self):
        server = self.server
        for attempt in (1, 2):  # the second run has the address cache warm, as the sweep will
            server.entered.clear()
            blocker = server.connect('/block')
            self.assertTrue(server.entered.wait(TIMEOUT))
            self.inject(0, 0, 0, 0)
            batch = [server.connect('/r%d' % i) for i in range(4)]
            self.assertEqual([Served.status(s) for s in [blocker] + batch], [200] * 5)
            allocations = self.inject(0, 0, 0, 0)[0]
        self.assertGreater(allocations, 20)
        lost = []
        for n in range(1, allocations + 1, max(1, allocations // 12)):
            server.entered.clear()
            blocker = server.connect('/block')
            self.assertTrue(server.entered.wait(TIMEOUT))
            self.inject(n, 0, 0, 0)  # the Nth allocation from here fails: the block's answer, or the batch's
            batch = [server.connect('/r%d' % i) for i in range(4)]
            statuses = [Served.status(s) for s in [blocker] + batch]
            if None in statuses:  # 500 is an answer: an allocation failed in the app's send
                lost.append((n, statuses))
        self.assertEqual(lost, [], 'requests never answered (None), by the allocation made to fail')


if __name__ == '__main__':
    unittest.main()
