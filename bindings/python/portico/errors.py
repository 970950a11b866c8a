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

CODE_NAMES = {
    OK: 'OK', ERR_DONE: 'DONE', ERR_INVALID: 'INVALID', ERR_BUFFER: 'BUFFER',
    ERR_CLOSED: 'CLOSED', ERR_STATE: 'STATE', ERR_HEADER: 'HEADER',
    ERR_LISTEN: 'LISTEN', ERR_OPTION: 'OPTION', ERR_IO: 'IO',
    ERR_FORKED: 'FORKED', ERR_INTERNAL: 'INTERNAL', ERR_TOO_LARGE: 'TOO_LARGE',
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
