"""WebSocket in the gateway interface (docs/websocket.md).

A request that carries a valid opening handshake gets a Handshake object as
environ['gateway.extensions']['websocket']; its accept() answers 101 and
returns a WebSocket, a blocking, socket-like object over portico_ws_*:

    hs = environ['gateway.extensions']['websocket']
    ws = hs.accept(subprotocol=None, headers=())   # or hs.reject(403)
    for message in ws:          # str (unicode on 2.7) for text, bytes for binary
        ws.send(message)        # text for str/unicode, binary for bytes
    return []                   # the adapter sends nothing more, closes, frees

One thread may send (send, ping, close) while another receives.
"""

import ctypes
import logging
import math
import mmap
import threading
import time

from . import _lib
from ._compat import PY2, latin1_from_native, text_type
from .errors import (ERR_BUFFER, ERR_CLOSED, ERR_DONE, ERR_HEADER, ERR_INVALID, ERR_IO, OK,
                     WebSocketClosed, WebSocketRefused, WebSocketTimeout)

try:
    from http.client import responses as REASONS
except ImportError:  # Python 2
    from httplib import responses as REASONS

# PORTICO_WS_* message kinds.
WS_TEXT = 1
WS_BINARY = 2
WS_CLOSE = 8
WS_PING = 9

DEFAULT_MAX_WEBSOCKETS = 1000
POLL_MS = 1000                 # receive(timeout=None) looks up from the library this often
INITIAL_BUFFER = 64 * 1024     # each WebSocket's receive buffer to start with
KEEP_BUFFER_LIMIT = 1 << 20    # a bigger message gets a one-off buffer, not a kept one
MAX_PING = 125
# The reason of the library's 1008 close for a client that does not read
# (ws_max_queued in portico.h).
QUEUE_FULL_REASON = 'peer does not read: output queue over its limit'

error_log = logging.getLogger('portico.error')

_string_at = ctypes.string_at
_now = getattr(time, 'monotonic', time.time)

PENDING, ACCEPTED, REJECTED, REFUSED = 'pending', 'accepted', 'rejected', 'refused'


def _unbound(*args):
    raise RuntimeError('libportico is not loaded yet')


_accept = _recv = _next_size = _send = _close = _free = _unbound


def bind(lib):
    """Bind this module to the loaded library (WSGIHandler does it)."""
    global _accept, _recv, _next_size, _send, _close, _free
    _accept = lib.portico_request_websocket_accept
    _recv = lib.portico_ws_recv
    _next_size = lib.portico_ws_next_size
    _send = lib.portico_ws_send
    _close = lib.portico_ws_close
    _free = lib.portico_ws_free


def receive_buffer(size):
    """A SIZE-byte buffer for portico_ws_recv in anonymous memory: the kernel
    maps its pages only when a message is written into them, so an idle
    WebSocket's 64 KiB costs next to no RSS (a zeroed ctypes buffer would
    cost all of it)."""
    try:
        return (ctypes.c_char * size).from_buffer(mmap.mmap(-1, size))
    except (TypeError, ValueError, EnvironmentError):
        return ctypes.create_string_buffer(size)


def log_dropped(path, code, reason):
    """The log line of a WebSocket the library dropped for a client that
    does not read what is sent to it."""
    if code == 1008 and reason == QUEUE_FULL_REASON:
        error_log.warning('WebSocket %s closed with 1008 and its connection dropped: the client '
                          'did not read what was sent to it (over --ws-max-queued)', path)


class WebSocketSlots(object):
    """Counts open WebSockets against LIMIT (--max-websockets). ON_ACCEPT, if
    set, is called in the thread that just accepted one (the worker pool uses
    it to start a replacement thread for plain requests)."""

    def __init__(self, limit=DEFAULT_MAX_WEBSOCKETS, on_accept=None):
        self.limit = limit
        self.on_accept = on_accept
        self.lock = threading.Lock()
        self.open = 0

    def reserve(self):
        with self.lock:
            if self.open >= self.limit:
                return False
            self.open += 1
            return True

    def release(self):
        with self.lock:
            self.open -= 1

    def accepted(self):
        if self.on_accept is not None:
            self.on_accept()


def split_list(value):
    """The comma-separated tokens of a header value, in order, empty ones dropped."""
    return [part.strip() for part in value.split(',') if part.strip()]


def _native(text):
    """A native str (byte str on 2.7) for a header name or value."""
    if PY2 and isinstance(text, text_type):
        return text.encode('latin-1')
    return text


def encode_fields(headers):
    """NUL-separated name and value pairs for portico_request_websocket_accept."""
    parts = []
    for header in headers:
        name, value = header
        name, value = _native(name), _native(value)
        if type(name) is not str or type(value) is not str:
            raise TypeError('header names and values must be strs: %r' % (header,))
        if not name or any(c in name + value for c in '\r\n\0'):
            raise ValueError('bad header field %r' % (header,))
        parts.append(name)
        parts.append(value)
    if not parts:
        return None
    try:
        return latin1_from_native('\0'.join(parts))
    except UnicodeEncodeError:
        raise ValueError('header fields must be latin-1: %r' % (headers,))


class HandshakeBase(object):
    """What every handshake object of docs/spec.md shares, Portico's own and
    the shims' (shim.py): the client's offers, the state, and the checks of
    accept()'s and reject()'s arguments."""

    def __init__(self, environ):
        self._path = environ.get('PATH_INFO', '')
        self.subprotocols = split_list(environ.get('HTTP_SEC_WEBSOCKET_PROTOCOL', ''))
        self.extensions = split_list(environ.get('HTTP_SEC_WEBSOCKET_EXTENSIONS', ''))
        self.state = PENDING
        self.websocket = None

    @property
    def answered(self):
        return self.state != PENDING

    def _check_pending(self):
        if self.state != PENDING:
            raise RuntimeError('this WebSocket handshake was already %s' % self.state)

    def _offered(self, subprotocol):
        """SUBPROTOCOL (None or one the client offered) as a native str."""
        if subprotocol is None:
            return None
        subprotocol = _native(subprotocol)
        if subprotocol not in self.subprotocols:
            raise ValueError('subprotocol %r was not offered by the client (it offered %r)'
                             % (subprotocol, self.subprotocols))
        return subprotocol

    @staticmethod
    def _rejection(status, headers, body):
        """reject()'s arguments checked: a final status line as a native str
        (an int gets its reason), native header pairs, bytes."""
        if isinstance(status, int):
            status = '%d %s' % (status, REASONS.get(status, 'Unknown'))
        status = _native(status)
        if not status[:3].isdigit() or int(status[:3]) < 200:
            raise ValueError('a rejection needs a final status (200-599), not %r' % (status,))
        if type(body) is not bytes:
            raise TypeError('the body must be bytes, not %s' % type(body).__name__)
        return status, [(_native(n), _native(v)) for n, v in headers], body


class Handshake(HandshakeBase):
    """A WebSocket opening handshake waiting for the app's answer.

    subprotocols  the subprotocols the client offered (Sec-WebSocket-Protocol), in order
    extensions    the extension offers the client sent (Sec-WebSocket-Extensions), as
                  strings, for information: the server negotiates permessage-deflate
                  by itself
    accept(subprotocol=None, headers=())   101 Switching Protocols; returns the WebSocket
    reject(status=403, headers=(), body=b'')   an ordinary HTTP answer instead
    """

    def __init__(self, request_id, response, environ, slots):
        HandshakeBase.__init__(self, environ)
        self._id = request_id
        self._response = response
        self._slots = slots

    def _check_pending(self):
        HandshakeBase._check_pending(self)
        if self._response.sent:
            raise RuntimeError('an HTTP response to this request has already started')

    def accept(self, subprotocol=None, headers=()):
        """Answer 101 and return the WebSocket. SUBPROTOCOL must be one of
        self.subprotocols (or None); HEADERS are extra (name, value) fields
        for the 101. Raises WebSocketRefused after answering 503 itself when
        --max-websockets are open already or the server is shutting down."""
        self._check_pending()
        subprotocol = self._offered(subprotocol)
        head = encode_fields(headers)
        if not self._slots.reserve():
            self._refuse('%d WebSockets are open already, the most allowed (--max-websockets)'
                         % self._slots.limit)
        proto = latin1_from_native(subprotocol) if subprotocol else None
        code = _accept(self._id, proto, head, len(head) if head else 0)
        if code != OK:
            self._slots.release()
            if code == ERR_CLOSED:
                self._refuse('the server is shutting down')
            if code == ERR_IO:
                self.state = REFUSED
                self._response.finished = True
                raise WebSocketClosed(1006, 'the client went away during the handshake')
            if code == ERR_HEADER:
                raise ValueError('the library refused subprotocol %r or headers %r'
                                 % (subprotocol, headers))
            raise _lib.error(code, 'accepting WebSocket %d' % self._id)
        self.state = ACCEPTED
        response = self._response
        response.status = '101 Switching Protocols'
        response.sent = response.finished = True  # no HTTP answer from the adapter now
        self.websocket = WebSocket(self._id, subprotocol, self._slots.release)
        self.websocket.path = self._path
        self._slots.accepted()
        return self.websocket

    def _answer(self, status, headers, body):
        response = self._response
        response.head = None  # a start_response the app made before does not count
        response.start_response(status, headers)
        response.finish(body)

    def _refuse(self, reason):
        self.state = REFUSED
        self._answer('503 Service Unavailable',
                     [('Content-Type', 'text/plain; charset=utf-8'), ('Retry-After', '1')],
                     (reason + '\n').encode('utf-8'))
        raise WebSocketRefused(503, reason)

    def reject(self, status=403, headers=(), body=b''):
        """Answer the handshake with an ordinary HTTP response: STATUS (an int,
        or a "403 Forbidden" str), HEADERS, and BODY (bytes). No WebSocket opens."""
        self._check_pending()
        status, headers, body = self._rejection(status, headers, body)
        self.state = REJECTED
        self._answer(status, headers, body)


class MessageIteration(object):
    """Iterating a WebSocket yields its messages until it closes; shared by
    Portico's WebSocket and the shims' (receive() is theirs)."""

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return self.receive()
        except WebSocketClosed:
            raise StopIteration

    next = __next__  # Python 2


class WebSocket(MessageIteration):
    """An accepted WebSocket.

    receive(timeout=None)  the next message: str (unicode on 2.7) for text, bytes for
                           binary; WebSocketTimeout after TIMEOUT seconds;
                           WebSocketClosed(code, reason) once closed, on every call
    send(data)             str/unicode: a text message; bytes/bytearray: binary
    ping(data=b'')         a ping (the library answers the client's pings itself)
    close(code=1000, reason='')   start the closing handshake
    for message in ws      receive() until the WebSocket closes
    subprotocol            the one accepted, or None
    closed                 True once either side started closing
    close_code, close_reason   the peer's close once received, else the one sent, else None
    """

    path = ''  # of the request, for the log

    def __init__(self, ws_id, subprotocol=None, on_release=None):
        self.id = ws_id
        self.subprotocol = subprotocol
        self.closed = False
        self.close_code = None
        self.close_reason = None
        self._on_release = on_release
        self._recv_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._buffer = receive_buffer(INITIAL_BUFFER)
        self._kind = ctypes.c_int()
        self._pending = []            # messages taken from the library early (see _find_close)
        self._received_close = False  # the peer's close (or the connection's end) arrived
        self._sent_close = False
        self._released = False

    def __repr__(self):
        return '<WebSocket %d%s>' % (self.id, ' closed' if self.closed else '')

    # -- receiving ---------------------------------------------------------

    def _closed_error(self):
        code = self.close_code if self.close_code is not None else 1006
        return WebSocketClosed(code, self.close_reason or '')

    def _take(self, wait_ms):
        """One portico_ws_recv (under the receive lock): a message (str or
        bytes), or None on timeout. Records a close and raises for it."""
        while True:
            buf = self._buffer
            n = _recv(self.id, buf, len(buf), wait_ms, ctypes.byref(self._kind))
            if n >= 0:
                data = _string_at(ctypes.addressof(buf), n)
                if len(buf) > KEEP_BUFFER_LIMIT:
                    self._buffer = receive_buffer(INITIAL_BUFFER)
                kind = self._kind.value
                if kind == WS_TEXT:
                    return data.decode('utf-8')
                if kind == WS_BINARY:
                    return data
                if kind == WS_CLOSE:
                    self._record_close(data)
                    raise self._closed_error()
                continue  # a kind this binding does not know: skip it
            if n == ERR_DONE:
                return None
            if n == ERR_BUFFER:
                size = _next_size(self.id)
                if size > 0:
                    if size > KEEP_BUFFER_LIMIT:
                        capacity = size
                    else:
                        capacity = max(size, 2 * len(buf))
                    self._buffer = receive_buffer(int(capacity))
                continue
            if n == ERR_INVALID and self._released:
                self.closed = self._received_close = True
                raise self._closed_error()
            raise _lib.error(int(n), 'receiving on WebSocket %d' % self.id)

    def _record_close(self, payload):
        self.closed = self._received_close = True
        if len(payload) >= 2:
            self.close_code = (ord(payload[0:1]) << 8) | ord(payload[1:2])
            self.close_reason = payload[2:].decode('utf-8', 'replace')
            log_dropped(self.path, self.close_code, self.close_reason)
        else:
            self.close_code, self.close_reason = 1005, ''

    def receive(self, timeout=None):
        """The next message, waiting up to TIMEOUT seconds (None: until one
        comes or the WebSocket closes)."""
        deadline = None
        if timeout is not None:
            if timeout < 0:
                raise ValueError('timeout must not be negative')
            deadline = _now() + timeout
        with self._recv_lock:
            if self._pending:
                return self._pending.pop(0)
            while True:
                if self._received_close:
                    raise self._closed_error()
                if deadline is None:
                    wait_ms = POLL_MS
                else:
                    left = deadline - _now()
                    wait_ms = max(0, min(POLL_MS, int(math.ceil(left * 1000))))
                message = self._take(wait_ms)
                if message is not None:
                    return message
                if deadline is not None and _now() >= deadline:
                    raise WebSocketTimeout('no WebSocket message within %gs' % timeout)

    def _find_close(self):
        """After a send failed because the WebSocket is closing: read what is
        queued (keeping the messages for receive) to learn the close code.
        Only if no other thread is receiving."""
        if self._received_close or not self._recv_lock.acquire(False):
            return
        try:
            while not self._received_close:
                message = self._take(0)
                if message is None:
                    break
                self._pending.append(message)
        except (WebSocketClosed, Exception):
            pass
        finally:
            self._recv_lock.release()

    # -- sending -----------------------------------------------------------

    def _send_kind(self, kind, payload):
        with self._send_lock:
            if self._released:
                code = ERR_INVALID
            else:
                code = _send(self.id, kind, payload, len(payload))
        if code == OK:
            return
        if code in (ERR_CLOSED, ERR_INVALID, ERR_IO):
            self.closed = True
            self._find_close()
            raise self._closed_error()
        if code == ERR_HEADER:
            raise ValueError('invalid UTF-8 in a text message, or a ping over %d bytes' % MAX_PING)
        raise _lib.error(code, 'sending on WebSocket %d' % self.id)

    def send(self, data):
        """Send DATA: text for str (unicode on 2.7), binary for bytes (2.7's
        str included), bytearray and memoryview."""
        if isinstance(data, text_type):
            self._send_kind(WS_TEXT, data.encode('utf-8'))
        elif isinstance(data, bytes):
            self._send_kind(WS_BINARY, data)
        elif isinstance(data, memoryview):
            self._send_kind(WS_BINARY, data.tobytes())
        elif isinstance(data, bytearray):
            self._send_kind(WS_BINARY, bytes(data))
        else:
            raise TypeError('a WebSocket message is str or bytes, not %s' % type(data).__name__)

    def ping(self, data=b''):
        """Send a ping with DATA (at most 125 bytes); the client answers with a pong."""
        if isinstance(data, text_type):
            data = data.encode('utf-8')
        if len(data) > MAX_PING:
            raise ValueError('a ping carries at most %d bytes' % MAX_PING)
        self._send_kind(WS_PING, bytes(data))

    def close(self, code=1000, reason=''):
        """Start the closing handshake with CODE (1000 normal, 1001 going
        away, 3000-4999 the app's own) and REASON. Returns at once; the
        client's answer ends the connection. Harmless once closed."""
        if isinstance(reason, bytes):
            reason = reason.decode('utf-8')
        with self._send_lock:
            if self._sent_close or self._received_close or self._released:
                return
            rc = _close(self.id, int(code), reason.encode('utf-8') if reason else None)
            if rc == OK:
                self._sent_close = self.closed = True
                if self.close_code is None:
                    self.close_code, self.close_reason = int(code), reason
                return
        if rc == ERR_HEADER:
            raise ValueError('%r is not a close code an endpoint may send' % (code,))
        if rc in (ERR_CLOSED, ERR_INVALID, ERR_IO):
            self.closed = True
            return
        raise _lib.error(rc, 'closing WebSocket %d' % self.id)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None or issubclass(exc_type, WebSocketClosed):
            self.close(1000)
        else:
            self.close(1011)

    # -- the adapter's part ------------------------------------------------

    def release(self, failed=False):
        """Close (1011 if the app FAILED, else 1000) if still open, and free
        the id. The adapter calls it once the app's call is over."""
        try:
            if not self.closed:
                self.close(1011 if failed else 1000)
        except Exception:
            pass
        with self._send_lock:
            if self._released:
                return
            self._released = True
            _free(self.id)
        if self._on_release is not None:
            self._on_release()
