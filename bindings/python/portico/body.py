"""RequestBody: wsgi.input, a read-only file over the request body.

It serves first the body bytes that came in the request record, then pulls the
rest with portico_request_read (the first such read is what sends "100
Continue" to a client that asked for it). It ends at Content-Length, or at the
end of a chunked body, so reading past the end returns b'' and never blocks.
"""

import ctypes
import sys

from . import _lib
from .errors import BodyReadError, BodyTimeout, CODE_NAMES, ERR_DONE

READ_CHUNK = 65536  # bytes asked of the library per call
WAIT_DEFAULT = -1   # the library's body_timeout_ms

_string_at = ctypes.string_at


class RequestBody(object):

    __slots__ = ('_id', '_buf', '_pos', '_remaining', '_done', '_chunk', '_read')

    def __init__(self, request_id, prefix, remaining, done):
        """PREFIX: body bytes already received. REMAINING: bytes still to come
        (None: unknown, chunked). DONE: nothing more comes from the library."""
        self._id = request_id
        self._buf = prefix
        self._pos = 0
        self._remaining = remaining
        self._done = done or remaining == 0
        self._chunk = None  # ctypes buffer, made on the first library read
        self._read = None

    def _pull(self):
        """The next bytes from the library (b'' at the end of the body)."""
        if self._done:
            return b''
        cap = READ_CHUNK
        if self._remaining is not None and self._remaining < cap:
            cap = self._remaining
        if self._chunk is None:
            self._chunk = ctypes.create_string_buffer(READ_CHUNK)
            self._read = _lib.load().portico_request_read
        n = self._read(self._id, self._chunk, cap, WAIT_DEFAULT)
        if n > 0:
            if self._remaining is not None:
                self._remaining -= n
                if self._remaining <= 0:
                    self._done = True
            return _string_at(self._chunk, n)
        self._done = True
        if n == 0:
            return b''
        if n == ERR_DONE:
            raise BodyTimeout(n, 'the request body stopped arriving (body_timeout_ms or '
                              'min_body_rate); the client got 408 or RST_STREAM')
        raise BodyReadError(n, 'reading the request body failed: %s (%s)'
                            % (_lib.strerror(n), CODE_NAMES.get(n, n)))

    def read(self, size=-1):
        if size is None or size < 0:
            size = sys.maxsize
        parts = []
        got = 0
        buf, pos = self._buf, self._pos
        if pos < len(buf):
            piece = buf[pos:pos + size]
            self._pos = pos + len(piece)
            parts.append(piece)
            got = len(piece)
        while got < size:
            chunk = self._pull()
            if not chunk:
                break
            want = size - got
            if len(chunk) > want:  # keep the excess for the next read
                self._buf, self._pos = chunk, want
                chunk = chunk[:want]
            else:
                self._buf, self._pos = b'', 0
            parts.append(chunk)
            got += len(chunk)
        if len(parts) == 1:
            return parts[0]
        return b''.join(parts)

    def readline(self, limit=-1):
        if limit is None or limit < 0:
            limit = sys.maxsize
        parts = []
        got = 0
        while got < limit:
            buf, pos = self._buf, self._pos
            if pos >= len(buf):
                buf = self._pull()
                if not buf:
                    break
                pos = 0
            newline = buf.find(b'\n', pos)
            stop = len(buf) if newline < 0 else newline + 1
            if stop - pos > limit - got:
                stop = pos + (limit - got)
            parts.append(buf[pos:stop])
            got += stop - pos
            self._buf, self._pos = buf, stop
            if newline >= 0 and stop == newline + 1:
                break
        if len(parts) == 1:
            return parts[0]
        return b''.join(parts)

    def readlines(self, hint=-1):
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                break
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    next = __next__  # Python 2

    def close(self):
        """Nothing to release; the request owns the connection."""

    def at_eof(self):
        """True once the body has been read to its end. With nothing buffered
        and the end not yet seen, asks the library once (a read that finds
        more bytes keeps them for the app's next read)."""
        if self._pos < len(self._buf):
            return False
        if not self._done:
            chunk = self._pull()
            if chunk:
                self._buf, self._pos = chunk, 0
                return False
        return True


# Shared by every request without a body: with nothing buffered and nothing to
# come, no method changes its state.
EMPTY_BODY = RequestBody(0, b'', 0, True)
