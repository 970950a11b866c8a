"""ASGI 3 apps on Portico (Python 3.8+; imported only when asked for).

One asyncio loop serves every connection: it waits on the library's readiness
descriptor and drains portico_server_poll, which hands over new requests,
body bytes, WebSocket messages and finished writes in batches (the "event
mode" of portico.h). Nothing here blocks in the library, and there is no
thread per connection: each request is one asyncio task.

Supported: http (streaming request and response bodies, http.disconnect),
websocket (subprotocols, accept headers, text and bytes, close codes,
websocket.disconnect, the denial response of the websocket.http.response
extension), lifespan, and under scope["extensions"], where usable on the
request: http.response.push, http.response.early_hint,
http.response.trailers and tls.
"""

import asyncio
import ctypes
import errno
import http
import logging
import os
import signal
import struct
import threading
import sys
from collections import deque
from urllib.parse import unquote

from . import _lib
from .errors import ERR_BUFFER, ERR_CLOSED, ERR_DONE, ERR_HEADER, PorticoError
from .server import (REQ_ANSWERED, REQ_BODY_COMPLETE, REQ_CHUNKED, REQ_PUSH, REQ_PUSHED, REQ_TLS,
                     REQ_TRAILERS, REQ_WEBSOCKET, Server, answer_request_line)
from .websocket import log_dropped
from .wsgi import tls_info

log = logging.getLogger('portico.error')
access_log = logging.getLogger('portico.access')

# PORTICO_POLL_* in portico.h (event mode).
EV_REQUEST, EV_BODY, EV_WS, EV_WRITTEN = 1, 2, 3, 4
WRITE_PENDING = 1
PY_FALLBACK = -1000          # pco_py_respond: encode the head in Python
END = 1
WS_TEXT, WS_BINARY, WS_CLOSE = 1, 2, 8
EV_WS_MESSAGE = 0x103  # pyaccel.c's events: a WebSocket message already made into its ASGI dict

_event = struct.Struct('<QHhI')
_unpack_event = _event.unpack_from
_record = struct.Struct('<QII')
_unpack_record = _record.unpack_from

NAMED_TASKS = sys.version_info < (3, 12)
TASK_NAME = 'portico-request'
OPTIONAL_EXTENSIONS = REQ_PUSH | REQ_TRAILERS | REQ_TLS
POLL_BUFFER = 256 * 1024     # grows when one event needs more
BODY_CHUNK = 64 * 1024       # body bytes asked for per http.request message
WS_BACKLOG = 1 << 20         # received WebSocket bytes held for the app before pausing

ASGI_VERSION = {'version': '3.0', 'spec_version': '2.4'}
HTTP_VERSIONS = {b'HTTP/1.1': '1.1', b'HTTP/2.0': '2', b'HTTP/1.0': '1.0'}
ADDR_CACHE = 4096            # client/server address pairs kept as scope tuples


def _status_lines():
    lines = {}
    for status in http.HTTPStatus:
        lines[status.value] = ('%d %s' % (status.value, status.phrase)).encode('latin-1')
    return lines


STATUS_LINES = _status_lines()


def status_line(status):
    line = STATUS_LINES.get(status)
    if line is None:
        if not isinstance(status, int) or not 100 <= status <= 999:
            raise ValueError('bad ASGI status: %r' % (status,))
        line = STATUS_LINES[status] = b'%d Unknown' % status
    return line


def encode_fields(headers, first=None):
    """NUL-separated head for the library: FIRST (a status line or path),
    then name and value per header. Names and values are bytes (ASGI)."""
    parts = [] if first is None else [first]
    for name, value in headers:
        parts.append(name)
        parts.append(value)
    head = b'\0'.join(parts)  # takes bytes and bytearrays alike
    if head.count(b'\0') != len(parts) - 1:  # one check for all of them
        for name, value in headers:
            if b'\0' in name or b'\0' in value:
                raise ValueError('NUL in header %r' % (name,))
    return head


# The ASGI TLS extension spells the version as the protocol's number.
TLS_VERSIONS = {'TLSv1.0': 0x0301, 'TLSv1.1': 0x0302, 'TLSv1.2': 0x0303, 'TLSv1.3': 0x0304}


def asgi_tls(info):
    """scope['extensions']['tls'] from the gateway's 'tls' dict. The cipher
    suite's number is not known here (the library names it), so it is None,
    which the ASGI spec allows."""
    info = info or {}
    return {'server_cert': None, 'client_cert_chain': list(info.get('peer_cert_chain') or ()),
            'client_cert_name': None, 'client_cert_error': None,
            'tls_version': TLS_VERSIONS.get(info.get('version')), 'cipher_suite': None}


class ClientDisconnected(OSError):
    """send() on a connection whose client went away (ASGI 2.4): an HTTP
    response body, or a WebSocket message."""


class LifespanFailure(Exception):
    """The app refused to start (lifespan.startup.failed, or raised)."""


class _Conn:
    """What every cycle shares: the library calls, bound once."""

    def __init__(self, server):
        lib = server._lib
        self.respond = lib.portico_request_respond_nowait
        accel = accelerator(lib)
        self.respond_fields = accel.respond if accel is not None else None
        if accel is not None:  # answers finished in one send: queued, sent in one crossing
            self.queue = accel.new_queue()
            self.respond_later = accel.respond_later
            self.flush = accel.flush
        self.write = lib.portico_request_write_nowait
        self.abort = lib.portico_request_abort
        self.want_body = lib.portico_request_want_body
        self.watch_gone = lib.portico_request_watch_gone
        self.early_hints = lib.portico_request_early_hints
        self.set_trailers = lib.portico_request_set_trailers
        self.push = lib.portico_request_push
        self.ws_accept = lib.portico_request_websocket_accept
        self.ws_watch = lib.portico_ws_watch
        self.ws_send = lib.portico_ws_send_nowait
        self.ws_send_bytes = accel.ws_send if accel is not None else None
        self.ws_close = lib.portico_ws_close
        self.ws_free = lib.portico_ws_free


def parse_head(payload):
    """(request id, flags, fields as bytes, body) from an EV_REQUEST payload."""
    request_id, flags, head_length = _unpack_record(payload)
    end = 16 + head_length
    return request_id, flags, bytes(payload[16:end]).split(b'\0'), bytes(payload[end:])


def build_scope(fields, flags, state, root_path, addrs=None):
    """The http scope from a request's fields; ADDRS, a dict, caches the
    client and server tuples (a connection's requests repeat them)."""
    method, raw_path, query, protocol, scheme = fields[0], fields[1], fields[2], fields[3], fields[4]
    headers = list(zip(map(bytes.lower, fields[9::2]), fields[10::2]))
    key = (fields[5], fields[6], fields[7], fields[8])
    ends = addrs.get(key) if addrs is not None else None
    if ends is None:
        remote, local = fields[5].decode('latin-1'), fields[7].decode('latin-1')
        ends = ((remote, int(fields[6])) if remote else None,
                (local, int(fields[8])) if local else None)
        if addrs is not None:
            if len(addrs) >= ADDR_CACHE:
                addrs.clear()
            addrs[key] = ends
    scope = {
        'type': 'http',
        'asgi': ASGI_VERSION,
        'http_version': HTTP_VERSIONS.get(protocol) or protocol[5:].decode('latin-1'),
        'method': method.decode('latin-1'),
        'scheme': scheme.decode('latin-1'),
        'path': raw_path.decode('utf-8', 'surrogateescape'),
        'raw_path': raw_path,
        'query_string': query,
        'root_path': root_path,
        'headers': headers,
        'client': ends[0],
        'server': ends[1],
        'extensions': {},
    }
    return finish_scope(scope, state)


def finish_scope(scope, state):
    """What build_scope and the library's decoder (pyaccel.c) leave to the
    end: a path with escapes percent-decoded, and the lifespan state."""
    raw_path = scope['raw_path']
    if 37 in raw_path:  # b'%'
        scope['path'] = unquote(raw_path.decode('latin-1'))
    if state is not None:
        scope['state'] = state.copy()
    return scope


class Accelerator:
    """The library's Python-object helpers (capi/pyaccel.c), as builtin
    functions: decode(batch address, size, out list, address cache,
    root_path) builds a poll batch's scopes in C; poll(handle, buffer
    address, capacity, out list, address cache, root_path, pending address)
    is portico_server_poll and decode in one call (pending: two size_t
    marking the rest of a batch whose decoding failed half-way, which the
    next poll decodes first: no event is lost); respond(id, status line,
    headers, body, flags) encodes a head of bytes pairs and answers in one
    call; respond_later(queue, ...) queues such an answer (a queue from
    new_queue()) for flush(queue) to send with the others queued in the
    same pass of the event loop; ws_send(id, kind, data) is
    portico_ws_send_nowait for bytes. build_scope and encode_fields do the
    same in Python."""

    def __init__(self, functions):
        self.decode = functions['events']
        self.poll = functions['poll']
        self.respond = functions['respond']
        self.new_queue = functions['new_queue']
        self.respond_later = functions['respond_later']
        self.flush = functions['flush']
        self.ws_send = functions['ws_send']


_accelerator = []  # [Accelerator or None], once per process


def accelerator(lib):
    """The Accelerator, or None: PORTICO_PY_ACCEL=0, or a library or
    interpreter without it."""
    if _accelerator:
        return _accelerator[0]
    accel = None
    if os.environ.get('PORTICO_PY_ACCEL', '1') != '0':
        try:
            # PyDLL: the GIL stays held and Python's error flag is checked.
            pylib = ctypes.PyDLL(lib._name)
            init = pylib.pco_py_init
            init.restype = ctypes.c_int
            init.argtypes = [ctypes.py_object, ctypes.py_object]
            functions = {}
            make = pylib.pco_py_functions
            make.restype = ctypes.c_int
            make.argtypes = [ctypes.py_object]
            if init(ASGI_VERSION, None) == 1 and make(functions) == 0:
                accel = Accelerator(functions)
        except (OSError, AttributeError):
            accel = None
    _accelerator.append(accel)
    return accel


async def wait_written(cycle):
    """The result of a write that answered WRITE_PENDING (EV_WRITTEN's code)."""
    cycle.written = written = cycle.srv.loop.create_future()
    try:
        return await written
    finally:
        cycle.written = None


class HTTPCycle:
    """One HTTP request: the receive and send of its app call."""

    __slots__ = ('srv', 'id', 'flags', 'body', 'more_body', 'started', 'head', 'finished',
                 'disconnected', 'waiter', 'written', 'trailers', 'status', 'task', 'expired')

    def __init__(self, srv, request_id, flags, body):
        self.srv = srv
        self.id = request_id
        self.flags = flags
        self.body = body            # first http.request body, None once given
        self.more_body = not flags & REQ_BODY_COMPLETE
        self.started = False        # http.response.start received
        self.head = None            # the status line and headers, until sent
        self.finished = False       # the response is complete
        self.disconnected = False
        self.waiter = None          # future of a receive()
        self.written = None         # future of a pending write
        self.trailers = None        # list while trailers are expected
        self.status = 0
        self.expired = None         # (status or 0, reason): the library ended it (request or body timeout)

    def add_extensions(self, scope):
        flags = self.flags
        ext = scope['extensions']
        ext['http.response.early_hint'] = {}
        if flags & REQ_PUSH and not flags & REQ_PUSHED:
            ext['http.response.push'] = {}
        if flags & REQ_TRAILERS:
            ext['http.response.trailers'] = {}
        if flags & REQ_TLS:
            ext['tls'] = asgi_tls(tls_info(self.id))

    async def run(self, app, scope):
        srv = self.srv
        try:
            await app(scope, self.receive, self.send)
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            if self.disconnected and isinstance(exc, (OSError, asyncio.CancelledError)):
                pass
            elif self.head is None and not self.finished:
                log.error('error in the ASGI app for %s %s (answering 500)', scope['method'],
                          scope['path'], exc_info=True)
            else:
                log.error('error in the ASGI app for %s %s after the response started; '
                          'closing the connection', scope['method'], scope['path'], exc_info=True)
            self._fail()
        else:
            if not self.finished and not self.disconnected:
                if self.head is None and not self.started:
                    log.error('the ASGI app returned without a response for %s %s (answering 500)',
                              scope['method'], scope['path'])
                else:
                    log.error('the ASGI app returned before its response was complete for %s %s',
                              scope['method'], scope['path'])
            self._fail()  # after a disconnect, quietly: the library lets the request go
        finally:
            srv.cycles.pop(self.id, None)
            status = self.status
            if self.expired is not None:
                status = self.expired[0] or status  # what the client got
                log.warning('%s %s: the server answered %s itself: %s', scope['method'], scope['path'],
                            status or '-', self.expired[1])
            if srv.log_access:
                access_log.info('%s - "%s %s %s" %s', scope['client'][0] if scope['client'] else '-',
                                scope['method'], scope['path'], scope['http_version'], status or '-')

    def _fail(self):
        if not self.finished:
            self.finished = True
            self.srv.conn.abort(self.id, 500)
        self._wake_receiver()

    # ---- receive ----

    async def receive(self):
        body = self.body
        if body is not None:
            self.body = None
            return {'type': 'http.request', 'body': body, 'more_body': self.more_body}
        if self.more_body and not self.disconnected and not self.finished:
            rc = self.srv.conn.want_body(self.id, BODY_CHUNK)
            if rc >= 0:
                self.waiter = waiter = self.srv.loop.create_future()
                try:
                    code, data = await waiter
                finally:
                    self.waiter = None
                if code >= 0:
                    self.more_body = code == 0
                    return {'type': 'http.request', 'body': data, 'more_body': self.more_body}
                if code == ERR_DONE:  # the library ended the request; run() logs it
                    self.expired = (0, 'the request body stopped arriving (body_timeout_ms or '
                                       'min_body_rate): 408, or RST_STREAM on HTTP/2')
            self.disconnected = True
            self.more_body = False
            return {'type': 'http.disconnect'}
        if not self.disconnected and not self.finished:
            # The body is complete: wait for the end of the exchange, or
            # (HTTP/2) for the client to reset the stream.
            self.srv.conn.watch_gone(self.id)
            self.waiter = waiter = self.srv.loop.create_future()
            try:
                code, _ = await waiter
            finally:
                self.waiter = None
            if code < 0:
                self.disconnected = True
        return {'type': 'http.disconnect'}

    def on_body(self, code, data):
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result((code, data))

    def on_written(self, code):
        written = self.written
        if written is not None and not written.done():
            written.set_result(code)

    def on_gone(self):
        """The server is closed: nothing more will come for this request."""
        self.disconnected = True
        self._wake_receiver()
        self.on_written(ERR_CLOSED)

    def _wake_receiver(self):
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result((ERR_CLOSED, b''))

    # ---- send ----

    async def send(self, message):
        kind = message['type']
        if kind == 'http.response.body':
            rc = self._body(message.get('body', b''), message.get('more_body', False))
            if rc == WRITE_PENDING:
                self._written(await wait_written(self))
        elif kind == 'http.response.start':
            if self.started:
                raise RuntimeError('http.response.start sent twice')
            self.started = True
            self.status = message['status']
            line = status_line(self.status)
            if self.srv.conn.respond_fields is not None:
                self.head = (line, message.get('headers', ()))  # encoded with the body, in C
            else:
                self.head = encode_fields(message.get('headers', ()), line)
            if message.get('trailers') and self.flags & REQ_TRAILERS:
                self.trailers = []
        elif kind == 'http.response.trailers':
            if self.trailers is None:
                raise RuntimeError('http.response.trailers without "trailers": True in the start')
            self.trailers.extend(message.get('headers', ()))
            if not message.get('more_trailers', False):
                fields = encode_fields(self.trailers)
                self.trailers = None
                if not self.disconnected:
                    _lib.check(self.srv.conn.set_trailers(self.id, fields, len(fields)), 'trailers')
                await self.send({'type': 'http.response.body'})
        elif kind == 'http.response.early_hint':
            if self.finished or self.disconnected:
                return
            if self.started and self.head is None:
                raise RuntimeError('early hints must come before the response starts')
            fields = encode_fields([(b'link', link) for link in message.get('links', ())])
            rc = self.srv.conn.early_hints(self.id, fields, len(fields))
            if rc < 0 and not self.disconnected:
                raise _lib.error(rc, 'early hints')
        elif kind == 'http.response.push':
            if not self.flags & REQ_PUSH or self.finished or self.disconnected:
                return
            path = message['path'].encode('latin-1')
            fields = encode_fields(message.get('headers', ()), path)
            self.srv.conn.push(self.id, fields, len(fields))  # refused pushes are no error
        else:
            raise RuntimeError('unexpected ASGI message for http: %r' % (kind,))

    def _body(self, body, more):
        """Hands body bytes (and the head, if not yet sent) to the library:
        0, or WRITE_PENDING for send to wait on (a coroutine less per send)."""
        if type(body) is not bytes:
            body = bytes(body)
        if self.disconnected:
            raise ClientDisconnected('the client went away')
        if self.finished:
            return 0  # after the end, as uvicorn: quietly dropped
        head = self.head
        end = not more and self.trailers is None
        conn = self.srv.conn
        if head is not None:
            self.head = None
            flags = END if end else 0
            if type(head) is tuple:  # the library's helpers are there (pyaccel.c)
                if end:
                    rc = conn.respond_later(conn.queue, self.id, head[0], head[1], body, flags)
                    if rc == 0:
                        srv = self.srv
                        if not srv.flush_pending:
                            srv.flush_soon()
                        return self._sent(0, end)
                rc = conn.respond_fields(self.id, head[0], head[1], body, flags)
                if rc != PY_FALLBACK:
                    return self._sent(rc, end)
                head = encode_fields(head[1], head[0])  # PY_FALLBACK: named errors, or bytes
            rc = conn.respond(self.id, head, len(head), body, len(body), flags)
        elif not self.started:
            raise RuntimeError('http.response.body before http.response.start')
        elif not body and not end:
            return 0
        else:
            rc = conn.write(self.id, body, len(body), END if end else 0)
        return self._sent(rc, end)

    def _sent(self, rc, end):
        if end:
            self.finished = True
            if self.waiter is not None:
                self._wake_receiver()
        if rc == 0:
            return 0
        if rc == WRITE_PENDING:
            return rc
        self._written(rc)
        return 0

    def _written(self, rc):
        if rc < 0:
            if rc == ERR_HEADER:
                # Nothing of it went out and the library still waits for an
                # answer: 500 (or the response cut off, if it had started).
                self.finished = True
                self.srv.conn.abort(self.id, 500)
                raise ValueError('the library refused the response head or body')
            self.disconnected = True
            self.finished = True
            self._wake_receiver()
            raise ClientDisconnected('the client went away (%s)' % _lib.strerror(rc))


class WebSocketCycle:
    """One WebSocket request: handshake, messages, close."""

    __slots__ = ('srv', 'id', 'state', 'messages', 'backlog', 'paused', 'waiter', 'close',
                 'denial_head', 'denial_started', 'written', 'task', 'path')

    CONNECTING, ACCEPTED, CLOSED, RESPONDED = range(4)

    def __init__(self, srv, request_id):
        self.srv = srv
        self.id = request_id
        self.state = self.CONNECTING
        self.messages = deque()
        self.backlog = 0
        self.paused = False
        self.waiter = None
        self.close = None       # the websocket.disconnect message, once closed
        self.denial_head = None
        self.denial_started = False
        self.written = None     # future of a pending send
        self.path = ''

    async def run(self, app, scope):
        srv = self.srv
        self.path = scope['path']
        self.messages.append({'type': 'websocket.connect'})
        try:
            await app(scope, self.receive, self.send)
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            if not (self.close is not None and isinstance(exc, (OSError, asyncio.CancelledError))):
                log.error('error in the ASGI app for WebSocket %s', scope['path'], exc_info=True)
            self._finish(1011, 500)
        else:
            self._finish(1000, 500)
        finally:
            srv.cycles.pop(self.id, None)

    def _finish(self, code, status):
        conn = self.srv.conn
        if self.state == self.CONNECTING:
            if self.denial_started:
                conn.abort(self.id, status)
            else:
                conn.abort(self.id, 403 if status == 403 else status)
        elif self.state in (self.ACCEPTED, self.CLOSED):
            if self.state == self.ACCEPTED and self.close is None:
                conn.ws_close(self.id, code, None)
            conn.ws_free(self.id)
        self.state = self.RESPONDED

    async def receive(self):
        messages = self.messages
        if not messages:
            if self.close is not None:
                return self.close
            if self.paused:
                self.paused = False
                self.srv.conn.ws_watch(self.id, 1)
            self.waiter = waiter = self.srv.loop.create_future()
            try:
                await waiter
            finally:
                self.waiter = None
            if not messages:
                return self.close
        message = messages.popleft()
        if message['type'] == 'websocket.receive':
            data = message.get('bytes') or message.get('text') or ''
            self.backlog -= len(data)
        return message

    def on_message(self, kind, data):
        if kind == WS_TEXT:
            message = {'type': 'websocket.receive', 'text': str(data, 'utf-8')}
        elif kind == WS_BINARY:
            message = {'type': 'websocket.receive', 'bytes': bytes(data)}
        else:
            data = bytes(data)
            code = int.from_bytes(data[:2], 'big') if len(data) >= 2 else 1005
            message = {'type': 'websocket.disconnect', 'code': code,
                       'reason': data[2:].decode('utf-8', 'replace')}
            log_dropped(self.path, code, message['reason'])
            self.close = message
            if self.state == self.ACCEPTED:
                self.state = self.CLOSED
        self.on_receive(message, len(data))

    def on_receive(self, message, size):
        """MESSAGE arrived for the app (SIZE payload bytes): queue it and
        wake a waiting receive()."""
        self.messages.append(message)
        self.backlog += size
        if self.backlog > WS_BACKLOG and not self.paused and self.close is None:
            self.paused = True  # the app is behind: let the library push back
            self.srv.conn.ws_watch(self.id, 0)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        written = self.written
        if self.close is not None and written is not None and not written.done():
            written.set_result(-4)

    def on_gone(self):
        if self.close is None:
            self.on_message(WS_CLOSE, b'\x03\xee')  # 1006: abnormal closure

    def on_written(self, code):
        written = self.written
        if written is not None and not written.done():
            written.set_result(code)

    async def send(self, message):
        kind = message['type']
        conn = self.srv.conn
        state = self.state
        if kind == 'websocket.send':
            # Until the app has received the disconnect it may still answer
            # the messages before it: after a protocol error the library
            # sends its close behind those answers (docs/websocket.md).
            taken = self.close is not None and not self.messages
            if taken or state != self.ACCEPTED and (state != self.CLOSED or self.close is None):
                raise ClientDisconnected('the WebSocket is closed')
            text = message.get('text')
            if text is not None:
                data, op = text.encode('utf-8'), WS_TEXT
            else:
                data, op = bytes(message.get('bytes') or b''), WS_BINARY
            if conn.ws_send_bytes is not None:
                rc = conn.ws_send_bytes(self.id, op, data)
            else:
                rc = conn.ws_send(self.id, op, data, len(data))
            if rc == WRITE_PENDING:
                rc = await wait_written(self)
            if rc < 0:
                raise ClientDisconnected('the WebSocket is closed (%s)' % _lib.strerror(rc))
        elif kind == 'websocket.accept':
            if state != self.CONNECTING or self.denial_started:
                raise RuntimeError('websocket.accept in state %d' % state)
            subprotocol = message.get('subprotocol')
            extra = encode_fields(message.get('headers', ()))
            rc = conn.ws_accept(self.id, subprotocol.encode('latin-1') if subprotocol else None,
                                extra, len(extra))
            if rc < 0:
                self.state = self.RESPONDED
                self.close = {'type': 'websocket.disconnect', 'code': 1006, 'reason': ''}
                raise ClientDisconnected('accept failed: %s' % _lib.strerror(rc))
            self.state = self.ACCEPTED
            self.messages.clear()
            conn.ws_watch(self.id, 1)
        elif kind == 'websocket.close':
            if state == self.CONNECTING and not self.denial_started:
                # Denied before the handshake: 403, as the ASGI spec says.
                head = b'403 Forbidden\0content-length\0' + b'0'
                conn.respond(self.id, head, len(head), b'', 0, END)
                self.state = self.RESPONDED
                self.close = {'type': 'websocket.disconnect', 'code': message.get('code', 1000), 'reason': ''}
            elif state == self.ACCEPTED and self.close is None:
                reason = message.get('reason') or ''
                conn.ws_close(self.id, message.get('code', 1000), reason.encode('utf-8')[:123])
                self.state = self.CLOSED
            # Closing twice is harmless.
        elif kind == 'websocket.http.response.start':
            if state != self.CONNECTING or self.denial_started:
                raise RuntimeError('websocket.http.response.start after the handshake')
            self.denial_started = True
            self.denial_head = encode_fields(message.get('headers', ()), status_line(message['status']))
        elif kind == 'websocket.http.response.body':
            if not self.denial_started or state != self.CONNECTING:
                raise RuntimeError('websocket.http.response.body without its start')
            body = message.get('body', b'')
            more = message.get('more_body', False)
            flags = 0 if more else END
            head = self.denial_head
            if head is not None:
                self.denial_head = None
                rc = conn.respond(self.id, head, len(head), body, len(body), flags)
            else:
                rc = conn.write(self.id, body, len(body), flags)
            if rc == WRITE_PENDING:
                self.written = written = self.srv.loop.create_future()
                try:
                    rc = await written
                finally:
                    self.written = None
            if not more or rc < 0:
                self.state = self.RESPONDED
                self.close = {'type': 'websocket.disconnect', 'code': 1000, 'reason': ''}
        else:
            raise RuntimeError('unexpected ASGI message for websocket: %r' % (kind,))


def websocket_scope(scope):
    scope['type'] = 'websocket'
    scope['scheme'] = 'wss' if scope['scheme'] == 'https' else 'ws'
    del scope['method']
    protocols = []
    for name, value in scope['headers']:
        if name == b'sec-websocket-protocol':
            protocols.extend(p.strip().decode('latin-1') for p in value.split(b',') if p.strip())
    scope['subprotocols'] = protocols
    scope['extensions']['websocket.http.response'] = {}
    return scope


class ASGIServer:
    """Runs an ASGI app on a Server in event mode, on the running loop."""

    def __init__(self, app, server, loop, state=None, root_path='', log_access=False):
        self.app = app
        self.server = server
        self.loop = loop
        self.state = state
        self.root_path = root_path
        self.log_access = log_access
        self.conn = _Conn(server)
        self.cycles = {}
        self.addrs = {}             # build_scope's cache of address tuples
        self.closed = loop.create_future()
        self._poll = server._lib.portico_server_poll
        self._handle = server._handle
        self._fd = server._ready_fd
        accel = accelerator(server._lib)
        self._poll_decode = accel.poll if accel is not None else None
        self._pending = (ctypes.c_size_t * 2)()  # poll's: the rest of a batch left to decode
        self._pending_at = ctypes.addressof(self._pending)
        self._clear = True          # an eventfd to read; not with inline_io (epoll)
        self.flush_pending = False  # a flush of conn.queue is scheduled
        self._grow(POLL_BUFFER)

    def _grow(self, size):
        self._buf = ctypes.create_string_buffer(size)
        self._addr = ctypes.addressof(self._buf)
        self._cap = size

    def start(self):
        os.set_blocking(self._fd, False)
        self.loop.add_reader(self._fd, self._on_ready)
        self._drain()

    def _on_ready(self):
        if self._clear:
            try:
                os.read(self._fd, 8)
            except BlockingIOError:
                pass
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self._clear = False  # the inline loop's epoll descriptor: poll clears it
        self._drain()

    def _drain(self):
        poll, handle = self._poll, self._handle
        poll_decode = self._poll_decode
        string_at = ctypes.string_at
        while True:
            if poll_decode is not None:
                events = []
                try:
                    n = poll_decode(handle, self._addr, self._cap, events, self.addrs, self.root_path,
                                    self._pending_at)
                except Exception:
                    self._decode_failed(events)
                    return
                if n > 0:
                    if self._dispatch_decoded(events, n) and not self.flush_pending:
                        # After the new requests' first steps, in this pass
                        # of the loop: what they answered goes out at once.
                        self.flush_soon()
                    return
            else:
                n = poll(handle, self._addr, self._cap)
                if n > 0:
                    self._dispatch(memoryview(string_at(self._addr, n)))
                    return
            # One poll per wake-up: the descriptor fires again for anything
            # left over or new (portico.h).
            if n == ERR_DONE:
                return
            if n == ERR_BUFFER:
                need = struct.unpack_from('<Q', self._buf.raw[:8])[0]
                self._grow(max(need, self._cap * 2))
                continue
            if n == ERR_CLOSED:
                self.loop.remove_reader(self._fd)
                for cycle in list(self.cycles.values()):
                    cycle.on_gone()
                if not self.closed.done():
                    self.closed.set_result(None)
                return
            raise _lib.error(n, 'portico_server_poll')

    def _dispatch(self, data):
        offset = 0
        end = len(data)
        cycles = self.cycles
        while offset < end:
            request_id, kind, code, length = _unpack_event(data, offset)
            offset += 16
            payload = data[offset:offset + length]
            offset += length
            if kind == EV_REQUEST:
                self._start(payload)
                continue
            cycle = cycles.get(request_id)
            if cycle is not None:  # else finished meanwhile
                deliver(cycle, kind, code, payload)

    def _decode_failed(self, events):
        """The C decoder failed half-way through a batch (out of memory, or a
        malformed record): EVENTS, decoded before the failure, are delivered
        now, and the rest of the batch, pending in the buffer, by the next
        poll (pyaccel.c's poll)."""
        log.error('decoding a poll batch failed (%d events before the failure delivered%s)', len(events),
                  '; the rest is retried' if self._pending[1] else '', exc_info=True)
        if self._dispatch_decoded(events, self._cap) and not self.flush_pending:
            self.flush_soon()
        if self._pending[1]:
            self.loop.call_soon(self._drain)

    def _dispatch_decoded(self, events, n):
        """_dispatch for a batch of N bytes the library decoded into EVENTS
        (pyaccel.c); true if it began requests."""
        cycles = self.cycles
        view = None
        began = False
        for request_id, kind, a, b, c in events:
            if kind == EV_REQUEST:  # a: flags, b: scope, c: body
                if a & REQ_ANSWERED:
                    self.log_answer(request_id, b['scheme'], b['method'], b['raw_path'], b['query_string'],
                                    b['http_version'], b['client'], c)
                    continue
                self._begin(request_id, a, finish_scope(b, self.state), c)
                began = True
                continue
            cycle = cycles.get(request_id)
            if cycle is None:
                continue  # finished meanwhile
            if kind == EV_WS_MESSAGE:  # a: the payload's size, b: the message
                cycle.on_receive(b, a)
            else:  # a: code, b:c the payload
                if view is None:
                    view = memoryview(ctypes.string_at(self._addr, n))
                deliver(cycle, kind, a, view[b:c])
        return began

    def flush_soon(self):
        """Schedules _flush: the answers queued by respond_later go out
        together once the callbacks ready now have run."""
        self.flush_pending = True
        self.loop.call_soon(self._flush)

    def _flush(self):
        self.flush_pending = False
        conn = self.conn
        try:
            refused = conn.flush(conn.queue)
        except Exception:
            log.error('answering the queued responses failed', exc_info=True)
            return
        for request_id in refused:
            log.error('the library refused the response head of request %d (a malformed status line or '
                      'header field); the client got 500 instead', request_id)

    def _start(self, payload):
        request_id, flags, fields, body = parse_head(payload)
        if flags & REQ_ANSWERED:
            self.log_answer(request_id, fields[4], fields[0].decode('latin-1'), fields[1], fields[2],
                            fields[3][5:].decode('latin-1'), (fields[5].decode('latin-1'),) if fields[5] else None,
                            body)
            return
        scope = build_scope(fields, flags, self.state, self.root_path, self.addrs)
        self._begin(request_id, flags, scope, body)

    def log_answer(self, request_id, scheme, method, raw_path, query, http_version, client, body):
        """An answer the library made itself (400, 431, 505, a 503 past the
        request timeout...): an error line with the reason, and the access line.
        Without a scheme, it tells of a request the app has: its cycle logs it."""
        if not scheme:
            cycle = self.cycles.get(request_id)
            if cycle is not None:
                status, _, reason = body.decode('latin-1').partition(' ')
                cycle.expired = (int(status), reason)
            return
        status, _, reason = body.decode('latin-1').partition(' ')
        if status == '0':  # no answer of its own: the app's response was wrong
            log.error('%s %s: %s', method, raw_path.decode('latin-1'), reason)
            return
        line = answer_request_line(method, raw_path.decode('latin-1'), query.decode('latin-1'),
                                   'HTTP/' + http_version if http_version else '')
        remote = client[0] if client else '-'
        (log.warning if status == '503' else log.info)(
            '%s "%s": the server answered %s itself: %s', remote, line, status, reason)
        if self.log_access:
            access_log.info('%s - "%s" %s', remote, line, status)

    def _begin(self, request_id, flags, scope, body):
        if flags & REQ_WEBSOCKET:
            cycle = WebSocketCycle(self, request_id)
            websocket_scope(scope)
        else:
            cycle = HTTPCycle(self, request_id, flags, body)
            if flags & OPTIONAL_EXTENSIONS:
                cycle.add_extensions(scope)
            else:
                scope['extensions']['http.response.early_hint'] = {}
        self.cycles[request_id] = cycle
        loop = self.loop
        if NAMED_TASKS and loop.get_task_factory() is None:
            # Before 3.12 an unnamed task formats "Task-<n>" (0.3 us);
            # a user's task factory is always honoured.
            task = asyncio.Task(cycle.run(self.app, scope), loop=loop, name=TASK_NAME)
        else:
            task = loop.create_task(cycle.run(self.app, scope))
        cycle.task = task  # held while the cycle is in self.cycles: the loop keeps weak ones


def deliver(cycle, kind, code, payload):
    """Hands an event other than a new request to its cycle. PAYLOAD is a
    view into the poll batch: whoever keeps it copies it."""
    if kind == EV_WS:
        cycle.on_message(code, payload)
    elif kind == EV_BODY:
        cycle.on_body(code, bytes(payload))
    elif kind == EV_WRITTEN:
        cycle.on_written(code)


class Lifespan:
    """The lifespan protocol: startup before serving, shutdown after."""

    def __init__(self, app, mode='auto'):
        self.app = app
        self.mode = mode
        self.state = {}
        self.supported = True
        self.inbox = asyncio.Queue()
        self.startup_done = None
        self.shutdown_done = None
        self.task = None
        self.error = None

    async def startup(self):
        if self.mode == 'off':
            return
        loop = asyncio.get_running_loop()
        self.startup_done = loop.create_future()
        self.shutdown_done = loop.create_future()
        scope = {'type': 'lifespan', 'asgi': ASGI_VERSION, 'state': self.state}
        self.task = loop.create_task(self._run(scope))
        await self.inbox.put({'type': 'lifespan.startup'})
        await asyncio.wait([self.startup_done, self.task], return_when=asyncio.FIRST_COMPLETED)
        if self.startup_done.done():
            ok, message = self.startup_done.result()
            if not ok:
                raise LifespanFailure('application startup failed%s' % (': ' + message if message else ''))
            return
        # The app returned or raised before answering startup.
        if self.error is not None and self.mode == 'on':
            raise LifespanFailure('application startup failed: %r' % (self.error,))
        if self.error is not None:
            log.info('ASGI lifespan not supported by the app (%r); going on without it', self.error)
        self.supported = False

    async def _run(self, scope):
        try:
            await self.app(scope, self.inbox.get, self._send)
        except BaseException as exc:
            self.error = exc
            if self.startup_done.done() and not isinstance(exc, asyncio.CancelledError):
                log.error('error in the ASGI lifespan', exc_info=True)
        finally:
            # startup() tells a returned task from an answered startup.
            if not self.shutdown_done.done():
                self.shutdown_done.set_result((False, ''))

    async def _send(self, message):
        kind = message['type']
        if kind == 'lifespan.startup.complete':
            self.startup_done.set_result((True, ''))
        elif kind == 'lifespan.startup.failed':
            self.startup_done.set_result((False, message.get('message', '')))
        elif kind == 'lifespan.shutdown.complete':
            self.shutdown_done.set_result((True, ''))
        elif kind == 'lifespan.shutdown.failed':
            self.shutdown_done.set_result((False, message.get('message', '')))
        else:
            raise RuntimeError('unexpected ASGI lifespan message: %r' % (kind,))

    async def shutdown(self):
        if self.mode == 'off' or not self.supported or self.task is None or self.task.done():
            return
        await self.inbox.put({'type': 'lifespan.shutdown'})
        await asyncio.wait([self.shutdown_done, self.task], return_when=asyncio.FIRST_COMPLETED)
        if self.shutdown_done.done():
            ok, message = self.shutdown_done.result()
            if not ok:
                log.error('application shutdown failed%s', ': ' + message if message else '')


async def serve_async(app, binds, options, name, log_access=False, lifespan='auto',
                      on_ready=None, stop=None):
    loop = asyncio.get_running_loop()
    life = Lifespan(app, lifespan)
    await life.startup()
    options = dict(options)
    options.setdefault('report_answers', 1)  # ASGIServer logs them
    server = Server(options)
    try:
        addresses = [server.listen(address) for address in binds]
        asgi = ASGIServer(app, server, loop, state=life.state if life.supported else None,
                          log_access=log_access)
        asgi.start()
        if stop is None:
            stop = asyncio.Event()
        elif not isinstance(stop, asyncio.Event):
            stop = _async_event(stop, loop)  # a worker's threading.Event
        signals = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, _on_signal, stop)
                signals.append(signum)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        if on_ready is not None:
            on_ready(addresses)
        else:
            from .serving import display_url
            sys.stderr.write('portico: serving %s on %s (asgi, %s)\n' % (
                name or getattr(app, '__name__', 'app'),
                ', '.join(display_url(a) for a in addresses), type(loop).__module__.split('.')[0]))
            sys.stderr.flush()
        await stop.wait()
        # The library drains in-flight requests while this loop keeps
        # serving them; its end shows as ERR_CLOSED from the poll.
        await loop.run_in_executor(None, server.shutdown)
        await asyncio.wait_for(asyncio.shield(asgi.closed), 10)
        tasks = [cycle.task for cycle in asgi.cycles.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=5)
            for task in tasks:
                task.cancel()  # an app that ignores the disconnect
        for signum in signals:
            loop.remove_signal_handler(signum)
    finally:
        server.close()
    await life.shutdown()


def _on_signal(stop):
    if stop.is_set():
        sys.stderr.write('portico: second signal, exiting now\n')
        sys.stderr.flush()
        os._exit(1)
    stop.set()


def _async_event(event, loop):
    """An asyncio.Event set when the threading.Event EVENT is (a worker
    process is told to stop from a thread that watches its supervisor)."""
    done = asyncio.Event()

    def watch():
        event.wait()
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=watch, name='portico-stop-watch', daemon=True).start()
    return done


def serve(app, bind, options=None, name=None, log_access=False, lifespan='auto', loop='asyncio',
          on_ready=None, stop=None):
    """Serve the ASGI APP until SIGINT or SIGTERM (or STOP, a threading.Event,
    is set), then drain; ON_READY(addresses) runs once it listens. LOOP is
    'asyncio', 'uvloop', or 'auto' (uvloop when installed)."""
    from .serving import configure_logging
    configure_logging()
    binds = [bind] if isinstance(bind, str) else list(bind)
    if loop in ('auto', 'uvloop'):
        try:
            import uvloop
        except ImportError:
            if loop == 'uvloop':
                raise PorticoError(-2, 'uvloop is not installed')
        else:
            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        asyncio.run(serve_async(app, binds, dict(options or {}), name, log_access, lifespan,
                                on_ready=on_ready, stop=stop))
    except LifespanFailure as exc:
        sys.stderr.write('portico: %s\n' % exc)
        sys.stderr.flush()
        return 3  # as uvicorn: the app could not start
    return 0
