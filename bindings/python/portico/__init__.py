"""Portico: HTTP/1.x, HTTP/2 and WebSocket for Python web applications, on a
Go protocol engine (libportico.so) loaded with ctypes.

Importing this package does not load the library: the Go runtime in it does
not survive fork(), so it is loaded by the first Server made in the process
that serves.
"""

__version__ = '0.1.0'

from .errors import (BodyReadError, BodyTimeout, LibraryNotFound, PorticoError,  # noqa: E402
                     ServerClosed, WebSocketClosed, WebSocketRefused, WebSocketTimeout)
from .server import Request, Server, debug_stats  # noqa: E402
from .serving import serve  # noqa: E402

__all__ = ['BodyReadError', 'BodyTimeout', 'LibraryNotFound', 'PorticoError', 'Request',
           'Server', 'ServerClosed', 'WebSocketClosed', 'WebSocketRefused', 'WebSocketTimeout', 'debug_stats', 'serve',
           '__version__']
