"""Shims between the gateway interface (docs/spec.md) and other servers.

to_wsgi(app)  a gateway app as a plain WSGI 1 app, for any WSGI container
              (gunicorn, uWSGI, mod_wsgi, wsgiref). It fills in the gateway
              keys from what the container really says and offers an
              extension only where the container really provides it:

    gateway.version        (1, 0)
    gateway.http_version   from SERVER_PROTOCOL ('HTTP/2.0' or 'HTTP/2' -> '2'),
                           or '2' where the container says so otherwise
                           (mod_http2's HTTP2=on under mod_wsgi)
    gateway.extensions     'http.response.early_hint' where the container
                           offers wsgi.early_hints (gunicorn 22+), on HTTP/1.1+;
                           'websocket' under uWSGI (uwsgi.websocket_*) for a
                           valid HTTP/1.1 Upgrade; 'tls' where mod_ssl-style
                           SSL_* variables are in the environ.
                           Push and trailers: no WSGI container offers them,
                           so they are never present.

    Under Portico itself (gateway.version already in the environ) the app is
    called unchanged.

to_asgi(app)  a gateway app as an ASGI 3 app (uvicorn, hypercorn, Portico's
              own --interface asgi): see shim_asgi.py (Python 3.6+ only, so it
              is imported only when called).

This module is importable on Python 2.7.
"""

import os
import select
import struct
import threading
import time

from ._compat import text_type
from .errors import WebSocketClosed, WebSocketTimeout
from .websocket import (ACCEPTED, PENDING, REJECTED, HandshakeBase, MessageIteration, _native,
                        split_list)

__all__ = ['to_wsgi', 'to_asgi', 'http_version_of', 'WebSocketClosed', 'WebSocketTimeout']

GATEWAY_VERSION = (1, 0)

# SERVER_PROTOCOL spellings containers use, to gateway.http_version (ASGI's spelling).
HTTP_VERSIONS = {'HTTP/1.0': '1.0', 'HTTP/1.1': '1.1', 'HTTP/2.0': '2', 'HTTP/2': '2',
                 'HTTP/3.0': '3', 'HTTP/3': '3'}

_now = getattr(time, 'monotonic', time.time)

def http_version_of(environ):
    """gateway.http_version for a WSGI container's ENVIRON: its
    SERVER_PROTOCOL, unless the container says otherwise. mod_wsgi reports
    Apache's r->protocol, and mod_http2 also sets HTTP2=on for a request that
    came over HTTP/2, so that wins."""
    if environ.get('HTTP2') == 'on':
        return '2'
    protocol = environ.get('SERVER_PROTOCOL', 'HTTP/1.0')
    version = HTTP_VERSIONS.get(protocol.upper())
    if version is None:
        version = protocol.partition('/')[2] or '1.0'
    return version


def is_websocket_request(environ):
    """True for a valid HTTP/1.1 WebSocket opening handshake (RFC 6455 4.2.1)."""
    return (environ.get('REQUEST_METHOD') == 'GET'
            and http_version_of(environ) == '1.1'
            and 'websocket' in [t.lower() for t in split_list(environ.get('HTTP_UPGRADE', ''))]
            and 'upgrade' in [t.lower() for t in split_list(environ.get('HTTP_CONNECTION', ''))]
            and environ.get('HTTP_SEC_WEBSOCKET_VERSION') == '13'
            and bool(environ.get('HTTP_SEC_WEBSOCKET_KEY')))


def tls_info(environ):
    """The 'tls' extension from mod_ssl-style variables (SSLOptions +StdEnvVars),
    or None on plaintext or when the container does not say."""
    if environ.get('wsgi.url_scheme') != 'https' or not environ.get('SSL_PROTOCOL'):
        return None
    cert = environ.get('SSL_CLIENT_CERT') or None
    chain = [cert] if cert else []
    # mod_ssl's SSL_CLIENT_CERT_CHAIN_n (+ExportCertData) are the certificates
    # after the leaf, numbered from 0.
    while cert and environ.get('SSL_CLIENT_CERT_CHAIN_%d' % (len(chain) - 1)):
        chain.append(environ['SSL_CLIENT_CERT_CHAIN_%d' % (len(chain) - 1)])
    return {
        'version': environ.get('SSL_PROTOCOL'),
        'cipher': environ.get('SSL_CIPHER'),
        'server_name': environ.get('SSL_TLS_SNI'),
        'alpn': 'h2' if environ.get('HTTP2') == 'on' else None,
        'peer_cert': cert,
        'peer_cert_chain': chain,
    }


class GatewayApp(object):
    """to_wsgi's result: a WSGI app that runs a gateway APP."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if 'gateway.version' in environ:  # Portico, or a shim further out
            return self.app(environ, start_response)
        version = http_version_of(environ)
        extensions = {}
        environ['gateway.version'] = GATEWAY_VERSION
        environ['gateway.http_version'] = version
        environ['gateway.extensions'] = extensions
        hints = environ.get('wsgi.early_hints')
        if callable(hints) and version != '1.0':  # HTTP/1.0 has no 1xx answers
            extensions['http.response.early_hint'] = hints
        tls = tls_info(environ)
        if tls is not None:
            extensions['tls'] = tls
        handshake = None
        if is_websocket_request(environ) and 'uwsgi.version' in environ:
            try:
                import uwsgi
            except ImportError:
                uwsgi = None
            if uwsgi is not None and hasattr(uwsgi, 'websocket_handshake'):
                handshake = UwsgiHandshake(uwsgi, environ, start_response)
                extensions['websocket'] = handshake
        if handshake is None:
            return self.app(environ, start_response)
        return self._websocket_call(handshake, environ, start_response)

    def _websocket_call(self, handshake, environ, start_response):
        failed = False
        try:
            result = self.app(environ, start_response)
            if handshake.state == PENDING:
                # An ordinary response, or a generator that answers the
                # handshake when iterated: release the WebSocket at close().
                return _ReleasingResult(result, handshake)
            try:
                _discard(result)  # accepted or rejected: nothing of it is sent
            finally:
                close = getattr(result, 'close', None)
                if close is not None:
                    close()
        except WebSocketClosed:
            pass  # the app let the client's close through
        except BaseException:
            failed = True
            raise
        finally:
            if handshake.websocket is not None:
                handshake.websocket.release(failed)
        if handshake.state == REJECTED:
            return [handshake.rejection_body]
        return []


def to_wsgi(app):
    """A WSGI 1 app that runs the gateway app APP under any WSGI container."""
    return GatewayApp(app)


def to_asgi(app, max_workers=None):
    """An ASGI 3 app that runs the gateway (blocking) app APP in a thread
    pool of MAX_WORKERS threads (default 40). Python 3.6+."""
    from .shim_asgi import GatewayASGIApp
    return GatewayASGIApp(app, max_workers=max_workers)


class _ReleasingResult(object):
    """The app's iterable, passed on; close() also closes a WebSocket the
    app accepted while it was iterated."""

    def __init__(self, result, handshake):
        self.result = result
        self.handshake = handshake

    def __iter__(self):
        for chunk in self.result:
            if self.handshake.state == PENDING:
                yield chunk
        if self.handshake.state == REJECTED:
            yield self.handshake.rejection_body

    def close(self):
        try:
            close = getattr(self.result, 'close', None)
            if close is not None:
                close()
        finally:
            if self.handshake.websocket is not None:
                self.handshake.websocket.release()


def _discard(result):
    if type(result) is not list and type(result) is not tuple:
        for _ in result:
            pass


# -- WebSocket, shared by the shims ------------------------------------------

class ShimHandshake(HandshakeBase):
    """The handshake object of docs/spec.md for a shim: subprotocols,
    extensions, accept(), reject(). Subclasses provide _accept(subprotocol,
    headers) -> WebSocket and _reject(status, headers, body)."""

    def accept(self, subprotocol=None, headers=()):
        """Answer 101 and return the WebSocket."""
        self._check_pending()
        subprotocol = self._offered(subprotocol)
        headers = [(_native(n), _native(v)) for n, v in headers]
        for name, value in headers:
            if type(name) is not str or type(value) is not str:
                raise TypeError('header names and values must be strs: %r' % ((name, value),))
            if not name or any(c in name + value for c in '\r\n\0'):
                raise ValueError('bad header field %r' % ((name, value),))
        self.websocket = self._accept(subprotocol, headers)
        self.state = ACCEPTED
        return self.websocket

    def reject(self, status=403, headers=(), body=b''):
        """An ordinary HTTP answer instead of the WebSocket."""
        self._check_pending()
        self._reject(*self._rejection(status, headers, body))
        self.state = REJECTED


class ShimWebSocket(MessageIteration):
    """The WebSocket object of docs/spec.md over a shim's transport.
    Subclasses provide _recv(timeout) -> str/bytes or None on timeout
    (raising WebSocketClosed on close), _send(opcode, payload) and
    _send_close(code, reason)."""

    def __init__(self, subprotocol=None):
        self.subprotocol = subprotocol
        self.closed = False
        self.close_code = None
        self.close_reason = None
        self._received_close = False
        self._sent_close = False
        self._recv_lock = threading.Lock()
        self._send_lock = threading.Lock()

    def _closed_error(self):
        code = self.close_code if self.close_code is not None else 1006
        return WebSocketClosed(code, self.close_reason or '')

    def _record_close(self, code, reason):
        self.closed = self._received_close = True
        self.close_code, self.close_reason = code, reason
        return self._closed_error()

    def receive(self, timeout=None):
        """The next message: str (unicode on 2.7) for text, bytes for binary.
        WebSocketTimeout after TIMEOUT seconds; WebSocketClosed once closed."""
        if timeout is not None and timeout < 0:
            raise ValueError('timeout must not be negative')
        with self._recv_lock:
            if self._received_close:
                raise self._closed_error()
            message = self._recv(timeout)
            if message is None:
                raise WebSocketTimeout('no WebSocket message within %gs' % timeout)
            return message

    def send(self, data):
        """str (unicode on 2.7): a text message; bytes, bytearray, memoryview: binary."""
        if isinstance(data, text_type):
            opcode, payload = 1, data.encode('utf-8')
        elif isinstance(data, bytes):
            opcode, payload = 2, data
        elif isinstance(data, (bytearray, memoryview)):
            opcode, payload = 2, bytes(data)
        else:
            raise TypeError('a WebSocket message is str or bytes, not %s' % type(data).__name__)
        with self._send_lock:
            if self.closed:
                raise self._closed_error()
            self._send(opcode, payload)

    def ping(self, data=b''):
        if isinstance(data, text_type):
            data = data.encode('utf-8')
        if len(data) > 125:
            raise ValueError('a ping carries at most 125 bytes')
        with self._send_lock:
            if self.closed:
                raise self._closed_error()
            self._send(9, bytes(data))

    def close(self, code=1000, reason=''):
        """Start the closing handshake; harmless once closed."""
        if isinstance(reason, bytes):
            reason = reason.decode('utf-8')
        code = int(code)
        if not (code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011)
                or 3000 <= code <= 4999):
            raise ValueError('%r is not a close code an endpoint may send' % (code,))
        with self._send_lock:
            if self._sent_close or self._received_close:
                return
            self._sent_close = self.closed = True
            if self.close_code is None:
                self.close_code, self.close_reason = code, reason
            try:
                self._send_close(code, reason)
            except (IOError, OSError, WebSocketClosed):
                pass  # the connection is gone: closed either way

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None or issubclass(exc_type, WebSocketClosed):
            self.close(1000)
        else:
            self.close(1011)

    def release(self, failed=False):
        """Close (1011 if the app FAILED, else 1000) if still open. The shim
        calls it once the app's call is over."""
        if not self.closed:
            try:
                self.close(1011 if failed else 1000)
            except Exception:
                pass


# -- uWSGI -------------------------------------------------------------------

def close_frame(code, reason):
    """An unmasked close frame (a server's), RFC 6455 5.5.1."""
    payload = struct.pack('!H', code) + reason.encode('utf-8')[:123]
    return struct.pack('!BB', 0x88, len(payload)) + payload


def control_frame(opcode, payload):
    return struct.pack('!BB', 0x80 | opcode, len(payload)) + payload


class UwsgiHandshake(ShimHandshake):
    """WebSocket under uWSGI, through uwsgi.websocket_handshake."""

    def __init__(self, uwsgi, environ, start_response):
        ShimHandshake.__init__(self, environ)
        self._uwsgi = uwsgi
        self._environ = environ
        self._start_response = start_response
        self.rejection_body = b''

    def _accept(self, subprotocol, headers):
        if headers:
            # uWSGI writes the 101 itself and takes no extra fields.
            raise ValueError("uWSGI's WebSocket handshake cannot carry extra headers")
        environ = self._environ
        try:
            self._uwsgi.websocket_handshake(environ['HTTP_SEC_WEBSOCKET_KEY'],
                                            environ.get('HTTP_ORIGIN', ''), subprotocol or '')
        except IOError:
            raise WebSocketClosed(1006, 'the client went away during the handshake')
        return UwsgiWebSocket(self._uwsgi, subprotocol)

    def _reject(self, status, headers, body):
        self._start_response(status, headers + [('Content-Length', str(len(body)))])
        self.rejection_body = body


class UwsgiWebSocket(ShimWebSocket):
    """uwsgi.websocket_recv/_nb and websocket_send/_send_binary. uWSGI does
    not say whether a message was text or binary, nor the peer's close code:
    receive() returns every message as bytes, and a close arrives as
    WebSocketClosed(1005) (unless this side closed first)."""

    def __init__(self, uwsgi, subprotocol):
        ShimWebSocket.__init__(self, subprotocol)
        self._uwsgi = uwsgi
        self._fd = uwsgi.connection_fd()

    def _closed(self):
        if self._sent_close:
            return self._record_close(self.close_code, self.close_reason)
        try:  # answer the peer's close, as RFC 6455 5.5.1 asks; uWSGI does not
            _write_all(self._fd, close_frame(1000, ''))
        except (IOError, OSError):
            pass
        self._sent_close = True
        return self._record_close(1005, '')

    def _recv(self, timeout):
        uwsgi = self._uwsgi
        try:
            if timeout is None:
                return uwsgi.websocket_recv()
            deadline = _now() + timeout
            while True:
                message = uwsgi.websocket_recv_nb()
                if message:
                    return message
                left = deadline - _now()
                if left <= 0:
                    return None
                select.select([self._fd], [], [], min(left, 1.0))
        except IOError:
            raise self._closed()

    def _send(self, opcode, payload):
        try:
            if opcode == 1:
                self._uwsgi.websocket_send(payload)
            elif opcode == 2:
                self._uwsgi.websocket_send_binary(payload)
            else:  # uWSGI's Python API has no ping: write the frame directly
                _write_all(self._fd, control_frame(opcode, payload))
        except (IOError, OSError):
            self.closed = True
            raise self._closed()

    def _send_close(self, code, reason):
        # uWSGI 2.0's Python API cannot send a close frame.
        _write_all(self._fd, close_frame(code, reason))


def _write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]
