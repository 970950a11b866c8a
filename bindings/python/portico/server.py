"""Server: the library's server mode (it owns listeners and connections, the
host pulls requests), and Request, one parsed request record."""

import ctypes
import errno
import os
import re
import select
import struct
import threading
import time

from . import _lib
from ._compat import native_from_latin1
from .errors import (ERR_BUFFER, ERR_CLOSED, ERR_DONE, ERR_FORKED, ERR_INVALID,
                     PorticoError, ServerClosed)

# Flags in a request record (PORTICO_REQ_*).
REQ_BODY_COMPLETE = 1
REQ_CHUNKED = 2
REQ_EXPECT_CONTINUE = 4
REQ_WEBSOCKET = 8
REQ_PUSH = 16
REQ_TRAILERS = 32
REQ_PUSHED = 64
REQ_TLS = 128
REQ_ANSWERED = 256  # not a request: an answer the library made itself, for the logs

# Positions of the fixed fields in a record's head; header name/value pairs follow.
METHOD, PATH, QUERY, PROTOCOL, SCHEME = 0, 1, 2, 3, 4
REMOTE_ADDR, REMOTE_PORT, LOCAL_ADDR, LOCAL_PORT = 5, 6, 7, 8
FIRST_HEADER = 9

RECORD_PREFIX = struct.Struct('<QII')  # request id, flags, head length
RECORD_SLACK = 4096                    # what the header promises beyond max_head_size

DEFAULT_MAX_HEAD_SIZE = 65536
DEFAULT_PREFETCH_SIZE = 65536

_unpack_prefix = RECORD_PREFIX.unpack_from
_unsafe_in_log = re.compile(r'[^\x20-\x7e]|["\\]')


def answer_request_line(method, path, query, protocol):
    """The request line of an answer record (REQ_ANSWERED), escaped for a
    log line: a head the library could not parse has no method, and its
    request line as received in place of the path."""
    if method:
        line = '%s %s%s %s' % (method, path, '?' + query if query else '', protocol)
    else:
        line = path
    return _unsafe_in_log.sub(lambda m: '\\x%02x' % ord(m.group()), line)
_string_at = ctypes.string_at


class Request(object):
    """One request record: its id, PORTICO_REQ_* flags, the head fields (native
    strs, see the FIELD constants) and the body bytes that came with it."""

    __slots__ = ('id', 'flags', 'fields', 'body')

    def __init__(self, request_id, flags, fields, body):
        self.id = request_id
        self.flags = flags
        self.fields = fields
        self.body = body

    method = property(lambda self: self.fields[METHOD])
    path = property(lambda self: self.fields[PATH])
    query = property(lambda self: self.fields[QUERY])
    protocol = property(lambda self: self.fields[PROTOCOL])

    @property
    def headers(self):
        """[(name, value)] in the order received."""
        fields = self.fields
        return [(fields[i], fields[i + 1]) for i in range(FIRST_HEADER, len(fields) - 1, 2)]

    def __repr__(self):
        return '<Request %d %s %s>' % (self.id, self.method, self.path)


def parse_record(data):
    """A Request from the bytes of one portico_server_next record."""
    request_id, flags, head_length = _unpack_prefix(data)
    end = 16 + head_length
    fields = native_from_latin1(data[16:end]).split('\0')
    return Request(request_id, flags, fields, data[end:])


class _RecordBuffer(object):
    """A ctypes buffer that one thread reuses for every record it pulls."""

    __slots__ = ('array', 'address', 'capacity')

    def __init__(self, capacity):
        self.array = ctypes.create_string_buffer(capacity)
        self.address = ctypes.addressof(self.array)
        self.capacity = capacity


class Server(object):
    """A libportico server. `options` maps option names of portico.h
    (max_head_size, max_body_size, header_timeout_ms, ...) to values.

    listen() as often as needed, then next() from worker threads (one waiter at
    a time is best), shutdown() to drain, close() once no thread uses it."""

    def __init__(self, options=None):
        options = dict(options or {})
        self._lib = lib = _lib.load()
        opts = lib.portico_options_new()
        if not opts:
            raise _lib.error(ERR_FORKED, 'portico_options_new failed')
        try:
            for name in sorted(options):
                value = options[name]
                if isinstance(value, bool):
                    value = 'true' if value else 'false'
                code = lib.portico_options_set(opts, str(name).encode('ascii'),
                                               str(value).encode('latin-1'))
                _lib.check(code, '%s=%r' % (name, value))
            handle = lib.portico_server_new(opts)
        finally:
            lib.portico_options_free(opts)
        if not handle:
            raise _lib.error(ERR_INVALID, 'portico_server_new failed')
        self._handle = handle
        self._next = lib.portico_server_next
        # Waiting happens on the readiness descriptor, in the kernel, rather
        # than inside the library: a thread blocked in a cgo call costs the
        # Go scheduler a hand-off at every wake-up (about 6% of throughput).
        self._ready_fd = lib.portico_server_fd(handle)
        self._clear_ready = True
        head = int(options.get('max_head_size', DEFAULT_MAX_HEAD_SIZE))
        prefetch = int(options.get('prefetch_size', DEFAULT_PREFETCH_SIZE))
        self.record_capacity = head + prefetch + RECORD_SLACK
        self._buffers = threading.local()
        self.addresses = []

    def _require_open(self):
        if self._handle is None:
            raise PorticoError(ERR_INVALID, 'the server is closed')
        return self._handle

    def last_error(self):
        buf = ctypes.create_string_buffer(1024)
        n = self._lib.portico_server_last_error(self._require_open(), buf, len(buf))
        return buf.value.decode('latin-1') if n > 0 else ''

    def listen(self, address):
        """Listen on "HOST:PORT", "unix:PATH" or "fd://N"; returns the bound
        address (the real port when PORT is 0)."""
        handle = self._require_open()
        index = self._lib.portico_server_listen(handle, address.encode('latin-1'))
        if index < 0:
            raise _lib.error(index, '%s: %s' % (address, self.last_error() or 'listen failed'))
        bound = self.address(index)
        self.addresses.append(bound)
        return bound

    def address(self, index):
        buf = ctypes.create_string_buffer(256)
        while True:
            n = self._lib.portico_server_address(self._require_open(), index, buf, len(buf))
            if n != ERR_BUFFER:
                break
            buf = ctypes.create_string_buffer(len(buf) * 4)
        _lib.check(n, 'listener %d' % index)
        return buf.raw[:n].decode('latin-1')

    def next(self, timeout_ms=-1):
        """The next Request, or None after TIMEOUT_MS (negative: wait forever).
        Raises ServerClosed once the server is shut down and drained."""
        try:
            buf = self._buffers.record
        except AttributeError:
            buf = self._buffers.record = _RecordBuffer(self.record_capacity)
        deadline = None
        wait_in_library = self._ready_fd < 0
        while True:
            n = self._next(self._handle, timeout_ms if wait_in_library else 0, buf.array, buf.capacity)
            if n >= 0:
                return parse_record(_string_at(buf.address, n))
            if n == ERR_DONE:
                if timeout_ms == 0 or wait_in_library:
                    return None
                if deadline is None:
                    deadline = None if timeout_ms < 0 else time.time() + timeout_ms / 1000.0
                if not self._wait_ready(deadline):
                    return None
                continue
            if n == ERR_CLOSED:
                raise ServerClosed(ERR_CLOSED, 'the server is shut down')
            if n == ERR_BUFFER:  # only with a head near the limit: grow and retry
                buf = self._buffers.record = _RecordBuffer(buf.capacity * 2)
                continue
            self._require_open()
            raise _lib.error(n, 'portico_server_next')

    def _wait_ready(self, deadline):
        """Wait until the readiness descriptor fires or DEADLINE passes (None:
        forever); False on timeout."""
        fd = self._ready_fd
        while True:
            left = None if deadline is None else deadline - time.time()
            if left is not None and left <= 0:
                return False
            try:
                readable = select.select([fd], [], [], left)[0]
            except (OSError, select.error) as exc:  # EINTR on 2.7 and 3.4
                if exc.args[0] == errno.EINTR:
                    continue
                raise
            if not readable:
                return False
            if self._clear_ready:
                try:
                    os.read(fd, 8)
                except OSError as exc:
                    if exc.errno == errno.EINVAL:
                        # An epoll descriptor (inline_io): the library
                        # clears it itself.
                        self._clear_ready = False
                    elif exc.errno not in (errno.EAGAIN, errno.EINTR):
                        raise
            return True

    def forget_thread_buffer(self):
        """Drop the calling thread's record buffer (head + prefetch, ~132 KiB):
        a thread that will not pull again, such as one serving a WebSocket
        until it exits, should not keep it."""
        self._buffers.__dict__.pop('record', None)

    def shutdown(self):
        """Stop accepting, let in-flight requests finish (up to
        graceful_timeout_ms), close the rest. Blocks, without the GIL."""
        if self._handle is not None:
            _lib.check(self._lib.portico_server_shutdown(self._handle), 'shutdown')

    def close(self):
        """Shut down if needed and release the server. Call it once no thread
        is inside next() any more; calling it twice is harmless."""
        handle, self._handle = self._handle, None
        if handle is not None:
            self._lib.portico_server_free(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def debug_stats():
    """Process-wide counters for leak checks and soak runs (loads the
    library): live request and WebSocket ids, open client connections and
    Go goroutines, as a dict."""
    lib = _lib.load()
    out = (ctypes.c_int64 * 3)()
    n = _lib.check(lib.portico_debug_stats(out, 3), 'debug stats')
    names = ('requests', 'connections', 'goroutines')
    return dict((names[i], int(out[i])) for i in range(n))
