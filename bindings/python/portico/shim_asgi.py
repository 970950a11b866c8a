"""portico.shim.to_asgi: a gateway app (blocking, a WSGI superset) as an
ASGI 3 app, for uvicorn, hypercorn or any ASGI server (Python 3.6+).

Each request runs the app in a thread pool; the thread talks to the event
loop through run_coroutine_threadsafe, so the body streams both ways chunk by
chunk and a WebSocket is a blocking, socket-like object in the app's thread.

What the app gets in gateway.extensions, from scope["extensions"]:
  http.response.push         -> 'http.response.push': push(path, headers=()) -> True
                                (the ASGI server gives no answer: True means asked for)
  http.response.early_hint   -> 'http.response.early_hint': early_hints(headers);
                                only Link fields travel in ASGI's message
  http.response.trailers     -> 'http.response.trailers': set_trailers(headers)
  tls                        -> 'tls': {version, cipher, server_name, alpn, peer_cert,
                                        peer_cert_chain}
and 'websocket' for a websocket scope. ASGI has no request trailers.
"""

import asyncio
import concurrent.futures
import sys
from urllib.parse import unquote_to_bytes

from .errors import WebSocketClosed
from .shim import ACCEPTED, GATEWAY_VERSION, PENDING, ShimHandshake, ShimWebSocket

DEFAULT_MAX_WORKERS = 40
CHUNK = 64 * 1024

TLS_VERSIONS = {0x0300: 'SSLv3', 0x0301: 'TLSv1', 0x0302: 'TLSv1.1', 0x0303: 'TLSv1.2',
                0x0304: 'TLSv1.3'}

UNPREFIXED = {'CONTENT_TYPE', 'CONTENT_LENGTH'}


class ClientDisconnected(IOError):
    """The client went away while the app was reading the request body."""


async def _await(awaitable):
    return await awaitable


class Bridge(object):
    """Runs the server's receive/send from the app's thread, on the loop."""

    def __init__(self, loop, receive, send):
        self.loop = loop
        self.receive_ = receive
        self.send_ = send

    def submit(self, awaitable):
        return asyncio.run_coroutine_threadsafe(_await(awaitable), self.loop)

    def send(self, message):
        return self.submit(self.send_(message)).result()

    def receive(self):
        return self.submit(self.receive_()).result()


def _latin1(text, what):
    if isinstance(text, bytes):
        return text
    try:
        return text.encode('latin-1')
    except (UnicodeEncodeError, AttributeError):
        raise ValueError('%s must be latin-1 strs: %r' % (what, text))


def encode_headers(headers, what='header'):
    out = []
    for header in headers:
        name, value = header
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError('%s names and values must be strs: %r' % (what, header))
        if not name or any(c in name + value for c in '\r\n\0'):
            raise ValueError('bad %s field %r' % (what, header))
        out.append((_latin1(name, what).lower(), _latin1(value, what)))
    return out


def tls_info(tls):
    """The gateway 'tls' dict from ASGI's tls extension."""
    version = tls.get('tls_version')
    cipher = tls.get('cipher_suite')
    chain = tls.get('client_cert_chain') or []
    return {
        'version': TLS_VERSIONS.get(version, version),
        'cipher': cipher,
        'server_name': tls.get('server_name'),
        'alpn': tls.get('alpn_protocol'),
        'peer_cert': chain[0] if chain else None,
        'peer_cert_chain': list(chain),
    }


def environ_from_scope(scope):
    """A PEP 3333 environ plus the gateway keys, from an http or websocket SCOPE."""
    version = scope.get('http_version', '1.1')
    protocol = 'HTTP/2.0' if version == '2' else 'HTTP/3.0' if version == '3' else 'HTTP/' + version
    root_path = scope.get('root_path', '') or ''
    raw_path = scope.get('raw_path')
    if isinstance(raw_path, str):  # uvicorn 0.17's websocket scope has a str
        raw_path = raw_path.encode('latin-1')
    if raw_path:
        path = unquote_to_bytes(raw_path.partition(b'?')[0]).decode('latin-1')
    else:
        path = scope['path'].encode('utf-8').decode('latin-1')
    script_name = root_path.encode('utf-8').decode('latin-1')
    if script_name and path.startswith(script_name):
        path = path[len(script_name):]
    scheme = scope.get('scheme') or ('ws' if scope['type'] == 'websocket' else 'http')
    scheme = {'ws': 'http', 'wss': 'https'}.get(scheme, scheme)
    environ = {
        'REQUEST_METHOD': scope.get('method', 'GET'),
        'SCRIPT_NAME': script_name,
        'PATH_INFO': path,
        'QUERY_STRING': scope.get('query_string', b'').decode('latin-1'),
        'SERVER_PROTOCOL': protocol,
        'wsgi.version': (1, 0),
        'wsgi.url_scheme': scheme,
        'wsgi.errors': sys.stderr,
        'wsgi.multithread': True,
        'wsgi.multiprocess': True,  # an ASGI server may run workers; we cannot tell
        'wsgi.run_once': False,
        'wsgi.input_terminated': True,
        'gateway.version': GATEWAY_VERSION,
        'gateway.http_version': version,
        'gateway.extensions': {},
    }
    server = scope.get('server')
    if server and server[1] is not None:
        environ['SERVER_NAME'], environ['SERVER_PORT'] = server[0], str(server[1])
    else:
        environ['SERVER_NAME'], environ['SERVER_PORT'] = 'localhost', '80'
    client = scope.get('client')
    if client:
        environ['REMOTE_ADDR'], environ['REMOTE_PORT'] = client[0], str(client[1])
    for name, value in scope.get('headers', ()):
        name = name.decode('latin-1')
        if '_' in name:  # would alias a '-' name; dropped, as Portico and gunicorn do
            continue
        key = name.upper().replace('-', '_')
        if key not in UNPREFIXED:
            key = 'HTTP_' + key
        value = value.decode('latin-1')
        if key in environ:
            value = environ[key] + ('; ' if key == 'HTTP_COOKIE' else ', ') + value
        environ[key] = value
    host = environ.get('HTTP_HOST')
    if host:
        name, _, port = host.rpartition(':') if not host.endswith(']') else (host, '', '')
        if name and port.isdigit():
            environ['SERVER_NAME'], environ['SERVER_PORT'] = name, port
        else:
            environ['SERVER_NAME'] = host
    tls = (scope.get('extensions') or {}).get('tls')
    if tls is not None:
        environ['gateway.extensions']['tls'] = tls_info(tls)
    return environ


class Input(object):
    """wsgi.input over the http.request messages, read in the app's thread."""

    def __init__(self, bridge):
        self.bridge = bridge
        self.buffer = b''
        self.eof = False

    def _fill(self):
        """Pull one more message; False at the end of the body."""
        if self.eof:
            return False
        message = self.bridge.receive()
        if message['type'] == 'http.disconnect':
            self.eof = True
            raise ClientDisconnected('the client went away before the request body ended')
        self.buffer += message.get('body', b'')
        if not message.get('more_body', False):
            self.eof = True
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            while self._fill():
                pass
            data, self.buffer = self.buffer, b''
            return data
        while len(self.buffer) < size and self._fill():
            pass
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def readline(self, size=-1):
        while b'\n' not in self.buffer and (size is None or size < 0 or len(self.buffer) < size):
            if not self._fill():
                break
        end = self.buffer.find(b'\n') + 1 or len(self.buffer)
        if size is not None and size >= 0:
            end = min(end, size)
        data, self.buffer = self.buffer[:end], self.buffer[end:]
        return data

    def readlines(self, hint=-1):
        lines, total = [], 0
        for line in self:
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line


class Response(object):
    """start_response, write() and the extensions, as ASGI messages."""

    def __init__(self, bridge, scope):
        self.bridge = bridge
        self.websocket = scope['type'] == 'websocket'
        self.extensions = scope.get('extensions') or {}
        self.trailers_enabled = 'http.response.trailers' in self.extensions
        self.status = None
        self.headers = None
        self.started = False
        self.finished = False
        self.trailers = []

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if self.started:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError('start_response() called twice without exc_info')
        if not isinstance(status, str) or len(status) < 4 or not status[:3].isdigit():
            raise ValueError('status must look like "200 OK", not %r' % (status,))
        self.headers = encode_headers(headers)
        self.status = int(status[:3])
        return self.write

    def _start(self):
        if self.status is None:
            raise AssertionError('body data before start_response()')
        if self.websocket:
            message = {'type': 'websocket.http.response.start', 'status': self.status,
                       'headers': self.headers}
        else:
            message = {'type': 'http.response.start', 'status': self.status,
                       'headers': self.headers}
            if self.trailers_enabled:
                message['trailers'] = True
        self.bridge.send(message)
        self.started = True

    def _body(self, data, more):
        kind = 'websocket.http.response.body' if self.websocket else 'http.response.body'
        self.bridge.send({'type': kind, 'body': data, 'more_body': more})

    def write(self, data):
        if not isinstance(data, bytes):
            raise TypeError('response body chunks must be bytes, not %s' % type(data).__name__)
        if self.finished:
            raise RuntimeError('the response has ended')
        if not self.started:
            self._start()
        if data:
            self._body(data, True)

    def finish(self, data=b''):
        if not self.started:
            self._start()
        self._body(data, False)
        self.finished = True
        if self.trailers_enabled and not self.websocket:
            self.bridge.send({'type': 'http.response.trailers', 'headers': self.trailers,
                              'more_trailers': False})

    # -- extensions --

    def push(self, path, headers=()):
        if not isinstance(path, str) or not path.startswith('/'):
            raise ValueError('the path to push must look like "/style.css", not %r' % (path,))
        if self.finished:
            raise RuntimeError('push() must be called before the response ends')
        self.bridge.send({'type': 'http.response.push', 'path': path,
                          'headers': encode_headers(headers, 'pushed request')})
        return True

    def early_hints(self, headers):
        fields = encode_headers(headers, 'early hint')
        if self.started:
            raise RuntimeError('early hints must come before the response starts')
        links = [value for name, value in fields if name == b'link']
        if len(links) != len(fields):
            raise ValueError("ASGI's early hint carries only Link fields: %r" % (headers,))
        self.bridge.send({'type': 'http.response.early_hint', 'links': links})

    def set_trailers(self, headers):
        fields = encode_headers(headers, 'trailer')
        if self.finished:
            raise RuntimeError('trailers must be set before the response ends')
        self.trailers = fields


class ASGIHandshake(ShimHandshake):
    """The handshake object over an ASGI websocket scope."""

    def __init__(self, bridge, scope, environ, response):
        ShimHandshake.__init__(self, environ)
        self.subprotocols = list(scope.get('subprotocols') or self.subprotocols)
        self.bridge = bridge
        self.response = response
        self.can_respond = 'websocket.http.response' in (scope.get('extensions') or {})

    def _accept(self, subprotocol, headers):
        message = {'type': 'websocket.accept', 'subprotocol': subprotocol}
        if headers:
            message['headers'] = encode_headers(headers)
        self.bridge.send(message)
        return ASGIWebSocket(self.bridge, subprotocol)

    def _reject(self, status, headers, body):
        if self.can_respond:
            response = self.response
            response.start_response(status, headers)
            response.finish(body)
        else:
            # Without websocket.http.response the server answers 403 by itself.
            self.bridge.send({'type': 'websocket.close', 'code': 1000})


class ASGIWebSocket(ShimWebSocket):
    """websocket.receive/send/close, from the app's thread. A receive that
    timed out stays pending and serves the next receive(), so no message is
    lost. ASGI has no ping message (the server pings by itself): ping()
    raises NotImplementedError."""

    def __init__(self, bridge, subprotocol):
        ShimWebSocket.__init__(self, subprotocol)
        self.bridge = bridge
        self._waiting = None

    def _recv(self, timeout):
        while True:
            if self._waiting is None:
                self._waiting = self.bridge.submit(self.bridge.receive_())
            try:
                message = self._waiting.result(timeout)
            except concurrent.futures.TimeoutError:
                return None
            self._waiting = None
            kind = message['type']
            if kind == 'websocket.receive':
                if message.get('text') is not None:
                    return message['text']
                return message.get('bytes') or b''
            if kind == 'websocket.disconnect':
                raise self._record_close(message.get('code', 1005),
                                         message.get('reason') or '')

    def _send(self, opcode, payload):
        if opcode == 9:
            raise NotImplementedError('ASGI has no ping message; the server keeps the '
                                      'connection alive by itself')
        if opcode == 1:
            message = {'type': 'websocket.send', 'text': payload.decode('utf-8')}
        else:
            message = {'type': 'websocket.send', 'bytes': payload}
        try:
            self.bridge.send(message)
        except Exception as exc:  # the server refuses sends once the connection is gone
            self.closed = True
            raise WebSocketClosed(self.close_code or 1006, str(exc))

    def _send_close(self, code, reason):
        message = {'type': 'websocket.close', 'code': code}
        if reason:
            message['reason'] = reason
        self.bridge.send(message)


class GatewayASGIApp(object):
    """to_asgi's result."""

    def __init__(self, app, max_workers=None):
        self.app = app
        self.max_workers = max_workers or DEFAULT_MAX_WORKERS
        self._executor = None

    def executor(self):
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=self.max_workers, thread_name_prefix='portico-shim')
        return self._executor

    async def __call__(self, scope, receive, send):
        kind = scope['type']
        if kind == 'lifespan':
            return await self.lifespan(receive, send)
        if kind not in ('http', 'websocket'):
            raise ValueError('portico.shim.to_asgi: unknown scope type %r' % (kind,))
        loop = asyncio.get_event_loop()
        bridge = Bridge(loop, receive, send)
        environ = environ_from_scope(scope)
        response = Response(bridge, scope)
        handshake = None
        if kind == 'websocket':
            message = await receive()
            if message['type'] != 'websocket.connect':
                return  # the client went away before the handshake
            handshake = ASGIHandshake(bridge, scope, environ, response)
            environ['gateway.extensions']['websocket'] = handshake
            environ['wsgi.input'] = Input(None)
            environ['wsgi.input'].eof = True
        else:
            environ['wsgi.input'] = Input(bridge)
            self.add_extensions(scope, environ, response)
        await loop.run_in_executor(self.executor(), self.run, environ, response, handshake)

    def add_extensions(self, scope, environ, response):
        offered = scope.get('extensions') or {}
        extensions = environ['gateway.extensions']
        if 'http.response.push' in offered:
            extensions['http.response.push'] = response.push
        if 'http.response.early_hint' in offered:
            extensions['http.response.early_hint'] = response.early_hints
            environ['wsgi.early_hints'] = response.early_hints
        if 'http.response.trailers' in offered:
            extensions['http.response.trailers'] = response.set_trailers

    def run(self, environ, response, handshake):
        """The app's call, in a pool thread."""
        failed = False
        try:
            result = self.app(environ, response.start_response)
            try:
                if handshake is not None:
                    self.finish_handshake(handshake, response, result)
                elif isinstance(result, (list, tuple)):
                    response.finish(b''.join(result))
                else:
                    for chunk in result:
                        response.write(chunk)
                    response.finish(b'')
            finally:
                close = getattr(result, 'close', None)
                if close is not None:
                    close()
        except (WebSocketClosed, ClientDisconnected):
            pass  # the client went away: nobody to answer
        except BaseException:
            failed = True
            if response.started or (handshake is not None and handshake.state == ACCEPTED):
                raise  # the server closes the connection
            response.status, response.headers = 500, [(b'content-type', b'text/plain')]
            if handshake is None or handshake.can_respond:
                response.finish(b'Internal Server Error\n')
            else:
                handshake.bridge.send({'type': 'websocket.close', 'code': 1011})
            raise
        finally:
            if handshake is not None and handshake.websocket is not None:
                handshake.websocket.release(failed)

    @staticmethod
    def finish_handshake(handshake, response, result):
        """Iterate the app's result for a websocket scope: a generator app
        may answer the handshake meanwhile; if nobody did, its HTTP answer
        goes out where the server can send one. Otherwise closing before
        accept makes the server answer 403."""
        for chunk in result:
            if handshake.state == PENDING and handshake.can_respond:
                response.write(chunk)
        if handshake.state == PENDING:
            if handshake.can_respond:
                response.finish(b'')
            else:
                handshake.bridge.send({'type': 'websocket.close', 'code': 1000})

    async def lifespan(self, receive, send):
        while True:
            message = await receive()
            if message['type'] == 'lifespan.startup':
                await send({'type': 'lifespan.startup.complete'})
            elif message['type'] == 'lifespan.shutdown':
                if self._executor is not None:
                    self._executor.shutdown(wait=False)
                    self._executor = None
                await send({'type': 'lifespan.shutdown.complete'})
                return
