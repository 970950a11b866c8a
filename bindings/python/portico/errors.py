"""Exceptions raised by the binding, and the error codes of include/portico.h."""

# enum portico_error, copied from include/portico.h (ABI 1).
OK = 0
ERR_DONE = -1
ERR_INVALID = -2
ERR_BUFFER = -3
ERR_CLOSED = -4
ERR_STATE = -5
ERR_HEADER = -6
ERR_LISTEN = -7
ERR_OPTION = -8
ERR_IO = -9
ERR_FORKED = -10
ERR_INTERNAL = -11
ERR_TOO_LARGE = -12
ERR_LENGTH = -14

CODE_NAMES = {
    OK: 'OK', ERR_DONE: 'DONE', ERR_INVALID: 'INVALID', ERR_BUFFER: 'BUFFER',
    ERR_CLOSED: 'CLOSED', ERR_STATE: 'STATE', ERR_HEADER: 'HEADER',
    ERR_LISTEN: 'LISTEN', ERR_OPTION: 'OPTION', ERR_IO: 'IO',
    ERR_FORKED: 'FORKED', ERR_INTERNAL: 'INTERNAL', ERR_TOO_LARGE: 'TOO_LARGE', ERR_LENGTH: 'LENGTH',
}


class PorticoError(Exception):
    """A call into libportico failed: `code` is a PORTICO_ERR_* value (negative),
    `message` says what happened."""

    def __init__(self, code, message):
        Exception.__init__(self, code, message)
        self.code = code
        self.message = message

    @property
    def name(self):
        return CODE_NAMES.get(self.code, str(self.code))

    def __str__(self):
        return '%s (PORTICO_ERR_%s)' % (self.message, self.name)


class LibraryNotFound(PorticoError, ImportError):
    """libportico.so could not be located or loaded."""

    def __init__(self, message):
        PorticoError.__init__(self, ERR_INVALID, message)

    def __str__(self):
        return self.message


class ServerClosed(PorticoError):
    """The server was shut down and every queued request has been handed out."""


class BodyReadError(PorticoError, IOError):
    """Reading the request body failed: the client went away, sent a bad body,
    stalled past body_timeout, or went over max_body_size. An IOError, so
    frameworks that treat a broken input stream as a disconnect keep doing so."""


class BodyTimeout(BodyReadError):
    """The request body stopped arriving: no byte for body_timeout_ms
    (--body-timeout), or slower than min_body_rate (--min-body-rate) past its
    grace. The library has already ended the request (408 Request Timeout on
    HTTP/1.x, RST_STREAM on HTTP/2) and logged it; the app should just let
    the exception go (the adapter answers nothing more)."""


class WebSocketClosed(Exception):
    """The WebSocket is closed: `code` is the close code (1000 normal, 1001
    going away, 1005 none given, 1006 the connection dropped without a close,
    1011 server error, 3000-4999 the application's own), `reason` the text
    that came with it (may be empty). receive() raises it once the close has
    arrived, and again on every later call; send() raises it once closing."""

    def __init__(self, code, reason=''):
        Exception.__init__(self, code, reason)
        self.code = code
        self.reason = reason

    def __str__(self):
        if self.reason:
            return 'WebSocket closed (%s): %s' % (self.code, self.reason)
        return 'WebSocket closed (%s)' % (self.code,)


class WebSocketTimeout(Exception):
    """receive(timeout=S) waited S seconds and no message came. The WebSocket
    is still open: receive again, or close it."""


class WebSocketRefused(Exception):
    """handshake.accept() could not open the WebSocket, and the server has
    already answered the handshake with `status` (503): over the
    --max-websockets limit, or the server is shutting down. The app should
    just return; the adapter sends nothing more."""

    def __init__(self, status, reason):
        Exception.__init__(self, status, reason)
        self.status = status
        self.reason = reason

    def __str__(self):
        return 'WebSocket refused (%d): %s' % (self.status, self.reason)
