"""The PEP 3333 adapter: a Request record in, the environ, the app call, the
response out through portico_request_respond/write/abort.

The common case -- an app that returns a list -- costs one call into the
library: the joined body goes out with the head and PORTICO_END.

Extensions
----------
environ['gateway.extensions'] is a dict; a key is present only when it is
usable on this request (all names and values are native strs):

'http.response.early_hint'  early_hints(headers): sends 103 Early Hints with
    HEADERS, a list of (name, value), before the response starts; call it as
    often as needed. Present on HTTP/1.1 and HTTP/2 (not 1.0), and also as
    environ['wsgi.early_hints'] (gunicorn's spelling). RuntimeError once the
    response has started, ValueError for a malformed field.
'http.response.push'  push(path, headers=()) -> bool: HTTP/2 server push of a
    GET for PATH (with any query), with extra request HEADERS. True if
    promised, False if the client does not allow it (any more). The pushed
    request runs through the same app like any other, with
    environ['gateway.pushed'] True and no push key of its own. Present on
    HTTP/2 when the client allows push; call it before the response ends.
'http.response.trailers'  set_trailers(headers): response trailers, sent
    when the response ends (before or during the body; a later call replaces
    them). Present on HTTP/2, and on HTTP/1.1 when the client sent
    "TE: trailers" (the response is then chunked; one that sets its own
    Content-Length cannot carry them on HTTP/1.1, and they are dropped).
'http.request.trailers'  request_trailers() -> [(name, value)]: the
    request's trailer fields ([] if none). Present on HTTP/2 and for a chunked
    HTTP/1.1 body; call it after reading wsgi.input to its end
    (RuntimeError before).
'websocket'  a WebSocket handshake (see websocket.py).
'tls'  a dict of what the TLS handshake settled: 'version' ('TLSv1.3'),
    'cipher' (IANA name, 'TLS_AES_128_GCM_SHA256'), 'server_name' (SNI, or
    None), 'alpn' ('h2', 'http/1.1' or None), 'peer_cert' (the client's
    certificate, PEM, or None) and 'peer_cert_chain' (the PEM certificates the
    client presented, leaf first; [] without one). Present on every request
    over TLS (HTTP/1.x, HTTP/2, pushed requests), absent on plaintext. Client
    certificates are asked for only with --ca-certs and --verify-client.
"""

import ctypes
import logging
import re
import sys
import time

from . import _lib, websocket
from ._compat import latin1_from_native, native_from_latin1, reraise, unquote_to_native
from .body import EMPTY_BODY, RequestBody
from .errors import (BodyReadError, ERR_BUFFER, ERR_CLOSED, ERR_DONE, ERR_HEADER, ERR_INVALID,
                     ERR_IO, ERR_LENGTH, ERR_STATE, ERR_TOO_LARGE, WebSocketClosed, WebSocketRefused)
from .filewrapper import FileWrapper
from .server import (FIRST_HEADER, LOCAL_ADDR, LOCAL_PORT, METHOD, PATH, PROTOCOL,
                     QUERY, REMOTE_ADDR, REMOTE_PORT, REQ_ANSWERED, REQ_BODY_COMPLETE, REQ_CHUNKED,
                     REQ_PUSH, REQ_PUSHED, REQ_TLS, REQ_TRAILERS, REQ_WEBSOCKET, SCHEME,
                     answer_request_line)
from .websocket import DEFAULT_MAX_WEBSOCKETS, Handshake, WebSocketSlots

PORTICO_END = 1

error_log = logging.getLogger('portico.error')
access_log = logging.getLogger('portico.access')


def _error_answer(status):
    head = '\0'.join([status, 'Content-Type', 'text/plain; charset=utf-8'])
    return latin1_from_native(head), latin1_from_native(status[4:] + '\n')


# Answers the adapter gives on its own, by status code.
ERROR_ANSWERS = dict((int(status[:3]), _error_answer(status)) for status in (
    '400 Bad Request', '408 Request Timeout', '413 Content Too Large',
    '500 Internal Server Error'))

# What a body read failure that the app let through means for the client.
BODY_ERROR_STATUS = {ERR_IO: 400, ERR_DONE: 408, ERR_TOO_LARGE: 413}

# gateway.http_version spells versions as ASGI does.
HTTP_VERSIONS = {'HTTP/1.0': '1.0', 'HTTP/1.1': '1.1', 'HTTP/2.0': '2'}

# Header names that become CGI variables without the HTTP_ prefix.
UNPREFIXED = {'CONTENT_TYPE': 'CONTENT_TYPE', 'CONTENT_LENGTH': 'CONTENT_LENGTH'}
HEADER_KEY_CACHE_LIMIT = 2048  # distinct spellings remembered; clients choose them


def header_key(name):
    """The environ key for header NAME, or '' to drop it: a name with '_'
    would alias a '-' name (X-Auth_User vs X-Auth-User), so like nginx and
    gunicorn it is dropped rather than trusted."""
    if '_' in name:
        return ''
    key = name.upper().replace('-', '_')
    return UNPREFIXED.get(key) or 'HTTP_' + key


def split_host(host, scheme):
    """SERVER_NAME and SERVER_PORT from a Host header value."""
    if host.startswith('['):  # [v6addr]:port
        end = host.find(']')
        name, rest = host[:end + 1], host[end + 1:]
        port = rest[1:] if rest.startswith(':') else ''
    else:
        name, _, port = host.partition(':')
    return name, port or ('443' if scheme == 'https' else '80')


def encode_head(status, headers):
    """The NUL-separated response head for portico_request_respond, after the
    PEP 3333 checks: native strs, "NNN reason", no CR, LF or NUL anywhere."""
    if type(status) is not str:
        raise TypeError('status must be a native str, not %r' % (status,))
    if len(status) < 4 or not status[:3].isdigit() or status[3] != ' ':
        raise ValueError('status must look like "200 OK", not %r' % (status,))
    parts = [status]
    for header in headers:
        name, value = header
        if type(name) is not str or type(value) is not str:
            raise TypeError('header names and values must be native strs: %r' % (header,))
        parts.append(name)
        parts.append(value)
    text = '\0'.join(parts)
    if '\r' in text or '\n' in text or text.count('\0') != len(parts) - 1:
        raise ValueError('CR, LF or NUL in the status or a header: %r %r' % (status, headers))
    try:
        return latin1_from_native(text)
    except UnicodeEncodeError:
        raise ValueError('status and headers must be latin-1: %r %r' % (status, headers))


_is_token = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z").match  # RFC 9110 field names


def encode_fields(headers, what='header'):
    """NUL-separated latin-1 name and value pairs (103 fields, trailers,
    pushed request fields), checked as encode_head checks the head, and
    each name a token (no pseudo-header fields)."""
    parts = []
    for header in headers:
        name, value = header
        if type(name) is not str or type(value) is not str:
            raise TypeError('%s names and values must be native strs: %r' % (what, header))
        if not _is_token(name):
            raise ValueError('bad %s field name: %r' % (what, header))
        parts.append(name)
        parts.append(value)
    text = '\0'.join(parts)
    if '\r' in text or '\n' in text or text.count('\0') != max(len(parts) - 1, 0):
        raise ValueError('CR, LF or NUL in a %s field: %r' % (what, headers))
    try:
        return latin1_from_native(text)
    except UnicodeEncodeError:
        raise ValueError('%s fields must be latin-1: %r' % (what, headers))


# Flags that bring extensions beyond early hints; HTTP/2 brings request trailers.
EXTENSION_FLAGS = REQ_PUSH | REQ_TRAILERS | REQ_PUSHED | REQ_CHUNKED | REQ_TLS
TRAILERS_BUFFER = 4096        # first guess for portico_request_trailers
TRAILERS_BUFFER_LIMIT = 1 << 24
TLS_BUFFER = 8192             # first guess for portico_request_tls: a short client chain


def tls_info(request_id):
    """The 'tls' dict of a request flagged REQ_TLS, or None if the library
    has no details (the request is already gone). Also used by the ASGI
    server, which binds no WSGIHandler."""
    global _tls
    if _tls is _unbound:
        _tls = _lib.load().portico_request_tls
    buf = ctypes.create_string_buffer(TLS_BUFFER)
    n = _tls(request_id, buf, TLS_BUFFER)
    if n == ERR_BUFFER:  # a long client chain: ask for the size, then copy
        n = _tls(request_id, None, 0)
        if n > 0:
            buf = ctypes.create_string_buffer(n)
            n = _tls(request_id, buf, n)
    if n <= 0:
        return None
    fields = native_from_latin1(ctypes.string_at(buf, n)).split('\0')
    chain = fields[4:]
    return {
        'version': fields[0],
        'cipher': fields[1],
        'server_name': fields[2] or None,
        'alpn': fields[3] or None,
        'peer_cert': chain[0] if chain else None,
        'peer_cert_chain': chain,
    }


class RequestTrailers(object):
    """environ['gateway.extensions']['http.request.trailers']: the request's
    trailer fields, once wsgi.input has been read to its end."""

    __slots__ = ('id', 'body')

    def __init__(self, request_id, body):
        self.id = request_id
        self.body = body   # the wsgi.input the adapter made (middleware may wrap it)

    def __call__(self):
        if not self.body.at_eof():
            raise RuntimeError('request trailers come after the body: read wsgi.input '
                               'to its end (until read() returns b\'\') first')
        capacity = TRAILERS_BUFFER
        while True:
            buf = ctypes.create_string_buffer(capacity)
            n = _trailers(self.id, buf, capacity)
            if n != ERR_BUFFER or capacity >= TRAILERS_BUFFER_LIMIT:
                break
            capacity *= 4
        if n == ERR_STATE:
            raise RuntimeError('request trailers come after the body: read wsgi.input '
                               'to its end first')
        if n == ERR_INVALID:
            raise RuntimeError('request trailers asked for after the response was finished')
        _lib.check(n, 'request %d trailers' % self.id)
        if n == 0:
            return []
        fields = native_from_latin1(buf.raw[:n]).split('\0')
        return [(fields[i], fields[i + 1]) for i in range(0, len(fields) - 1, 2)]


class ClientGone(IOError):
    """The connection went away while the response was being sent. An IOError,
    as apps expect from a write to a dead socket."""


class ContentLengthMismatch(RuntimeError):
    """The app's body disagreed with its Content-Length: the library sent
    the declared bytes at most and cut the response (the log says more)."""


class RequestTimedOut(ClientGone):
    """The request timeout ended the request first: the server answered 503
    itself, or cut the response that had started."""


class Response(object):
    """One request's response: start_response, the write() callable, and the
    head/body calls into the library with their state."""

    __slots__ = ('id', 'head', 'status', 'sent', 'finished', 'bytes_sent')

    def __init__(self, request_id):
        self.id = request_id
        self.head = None       # encoded head, set by start_response
        self.status = None
        self.sent = False      # head is on its way to the client
        self.finished = False  # PORTICO_END went out
        self.bytes_sent = 0

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if self.sent:
                    reraise(*exc_info)
            finally:
                exc_info = None
        elif self.head is not None:
            raise AssertionError('start_response() called twice without exc_info')
        self.head = encode_head(status, headers)
        self.status = status
        return self.write

    def _check(self, code, starting=False, size=0):
        """Raises for a failed call; STARTING: the call that sends the head,
        SIZE: the body bytes it carried."""
        if code < 0:
            if code == ERR_LENGTH:
                self.finished = True
                declared = _declared_length(self.head)
                if declared is not None:  # what went out, for the access log
                    self.bytes_sent = min(self.bytes_sent + size, declared)
                raise ContentLengthMismatch('the response body disagrees with its Content-Length '
                                            '(%d bytes given): cut' % (self.bytes_sent + size))
            if code == ERR_CLOSED or code == ERR_IO:
                self.finished = True
                raise ClientGone(_lib.strerror(code))
            if code == ERR_INVALID:
                # This binding never reuses a finished id: the library
                # finished it, past request_timeout_ms (503 sent, or the
                # response cut). For the app, as good as a client gone.
                self.finished = True
                if starting:
                    self.status = '503'  # what the client got, for the access log
                    raise RequestTimedOut('request timeout (--request-timeout): the server '
                                          'answered 503 itself')
                raise RequestTimedOut('request timeout (--request-timeout): the server cut '
                                      'the response')
            raise _lib.error(code, 'request %d' % self.id)

    def write(self, data):
        """Send DATA now (the head too, the first time). The legacy write()
        callable of PEP 3333, and the path of every streamed chunk."""
        if type(data) is not bytes:
            raise TypeError('response body chunks must be bytes, not %s' % type(data).__name__)
        if self.head is None:
            raise AssertionError('body data before start_response()')
        if not self.sent:
            head = self.head
            self._check(_respond(self.id, head, len(head), data, len(data), 0), True, len(data))
            self.sent = True
        elif data:
            self._check(_write(self.id, data, len(data), 0), size=len(data))
        self.bytes_sent += len(data)

    def finish(self, data):
        """Send DATA as the last of the body (the whole body if nothing was sent)."""
        if type(data) is not bytes:
            raise TypeError('response body must be bytes, not %s' % type(data).__name__)
        if self.head is None:
            raise AssertionError('the application returned without calling start_response()')
        if not self.sent:
            head = self.head
            self.sent = True
            self._check(_respond(self.id, head, len(head), data, len(data), PORTICO_END), True, len(data))
        else:
            self._check(_write(self.id, data, len(data), PORTICO_END), size=len(data))
        self.finished = True
        self.bytes_sent += len(data)

    # The gateway extensions that act on the response (see the module doc).

    def early_hints(self, headers):
        """Send 103 Early Hints with HEADERS [(name, value)] now."""
        fields = encode_fields(headers, 'early hint')
        if self.sent or self.finished:
            raise RuntimeError('early hints must come before the response starts')
        code = _early_hints(self.id, fields, len(fields))
        if code < 0:
            if code == ERR_CLOSED or code == ERR_IO:
                return  # advisory only: the response itself will notice
            if code == ERR_STATE:
                raise RuntimeError('early hints must come before the response starts')
            if code == ERR_HEADER:
                raise ValueError('the library refused an early hint field: %r' % (headers,))
            raise _lib.error(code, 'request %d early hints' % self.id)

    def set_trailers(self, headers):
        """Send HEADERS [(name, value)] as trailers when the response ends."""
        fields = encode_fields(headers, 'trailer')
        if self.finished:
            raise RuntimeError('trailers must be set before the response ends')
        code = _set_trailers(self.id, fields, len(fields))
        if code < 0:
            if code == ERR_STATE or code == ERR_INVALID:
                raise RuntimeError('trailers must be set before the response ends')
            if code == ERR_HEADER:
                raise ValueError('the library refused a trailer field: %r' % (headers,))
            self._check(code)

    def push(self, path, headers=()):
        """Promise a GET of PATH (HTTP/2 server push); False if the client
        does not allow it now."""
        if type(path) is not str:
            raise TypeError('the path to push must be a native str, not %r' % (path,))
        if not path.startswith('/') or '\0' in path or '\r' in path or '\n' in path \
                or ' ' in path:
            raise ValueError('the path to push must look like "/style.css", not %r' % (path,))
        try:
            head = latin1_from_native(path)
        except UnicodeEncodeError:
            raise ValueError('the path to push must be latin-1 (percent-encode it): %r'
                             % (path,))
        fields = encode_fields(headers, 'pushed request')
        if fields:
            head = head + b'\0' + fields
        if self.finished:
            raise RuntimeError('push() must be called before the response ends')
        code = _push(self.id, head, len(head))
        if code == 0:
            return True
        if code == ERR_STATE or code == ERR_CLOSED or code == ERR_IO:
            return False
        if code == ERR_HEADER:
            raise ValueError('the library refused the push of %r %r' % (path, headers))
        if code == ERR_INVALID:
            raise RuntimeError('push() must be called before the response ends')
        raise _lib.error(code, 'request %d push' % self.id)

    def fail(self, status=500):
        """The app failed: answer STATUS if nothing went out yet, else drop
        the connection, since the response cannot be completed honestly."""
        if self.finished:
            return
        self.finished = True
        if not self.sent:
            head, body = ERROR_ANSWERS[status]
            self.status = str(status)
            code = _respond(self.id, head, len(head), body, len(body), PORTICO_END)
            if code >= 0:
                return
            if code == ERR_INVALID:
                self.status = '503'  # the request timeout answered first
                return
        _abort(self.id, status)


def _declared_length(head):
    """The Content-Length of an encoded response head, or None."""
    parts = head.split(b'\0')
    for i in range(1, len(parts) - 1, 2):
        if parts[i].lower() == b'content-length':
            try:
                return int(parts[i + 1])
            except ValueError:
                return None
    return None


def _unbound(*args):
    raise RuntimeError('libportico is not loaded yet')


# Bound to the library's functions by WSGIHandler, once the library is loaded.
_respond = _write = _abort = _unbound
_early_hints = _set_trailers = _trailers = _push = _tls = _unbound


def _discard(result):
    """Run a result iterable to its end, sending nothing: after a WebSocket
    handshake was answered, a generator app may still have work to do."""
    if type(result) is not list and type(result) is not tuple:
        for _ in result:
            pass


class WSGIHandler(object):
    """Calls a WSGI application for each Request the workers pull.

    `websockets` (a WebSocketSlots) counts open WebSockets against
    MAX_WEBSOCKETS; the worker pool sets its on_accept."""

    def __init__(self, app, url_scheme=None, log_access=False,
                 max_websockets=DEFAULT_MAX_WEBSOCKETS):
        global _respond, _write, _abort, _early_hints, _set_trailers, _trailers, _push, _tls
        lib = _lib.load()
        _respond = lib.portico_request_respond
        _write = lib.portico_request_write
        _abort = lib.portico_request_abort
        _early_hints = lib.portico_request_early_hints
        _set_trailers = lib.portico_request_set_trailers
        _trailers = lib.portico_request_trailers
        _push = lib.portico_request_push
        _tls = lib.portico_request_tls
        websocket.bind(lib)
        self.websockets = WebSocketSlots(max_websockets)
        self.app = app
        self.log_access = log_access
        self.header_keys = {}
        self.base_environ = {
            'SCRIPT_NAME': '',
            'wsgi.version': (1, 0),
            'wsgi.errors': sys.stderr,
            'wsgi.multithread': True,
            'wsgi.multiprocess': False,
            'wsgi.run_once': False,
            'wsgi.input_terminated': True,
            'wsgi.file_wrapper': FileWrapper,
            'gateway.version': (1, 0),
        }
        self.url_scheme = url_scheme

    def environ(self, request):
        fields = request.fields
        environ = self.base_environ.copy()
        environ['REQUEST_METHOD'] = fields[METHOD]
        path = fields[PATH]
        if path[:1] != '/' and '://' in path:  # absolute-form target (proxies)
            path = '/' + path.split('://', 1)[1].partition('/')[2]
        if '%' in path:
            path = unquote_to_native(path)
        environ['PATH_INFO'] = path
        environ['QUERY_STRING'] = fields[QUERY]
        protocol = fields[PROTOCOL]
        environ['SERVER_PROTOCOL'] = protocol
        environ['gateway.http_version'] = HTTP_VERSIONS.get(protocol) or protocol[5:]
        environ['gateway.extensions'] = {}
        scheme = self.url_scheme or fields[SCHEME] or 'http'
        environ['wsgi.url_scheme'] = scheme
        environ['REMOTE_ADDR'] = fields[REMOTE_ADDR]
        environ['REMOTE_PORT'] = fields[REMOTE_PORT]

        keys = self.header_keys
        for i in range(FIRST_HEADER, len(fields) - 1, 2):
            name = fields[i]
            key = keys.get(name)
            if key is None:
                key = header_key(name)
                if len(keys) < HEADER_KEY_CACHE_LIMIT:
                    keys[name] = key
            if key:
                if key in environ:
                    separator = '; ' if key == 'HTTP_COOKIE' else ', '
                    environ[key] = environ[key] + separator + fields[i + 1]
                else:
                    environ[key] = fields[i + 1]

        host = environ.get('HTTP_HOST')
        if host:
            environ['SERVER_NAME'], environ['SERVER_PORT'] = split_host(host, scheme)
        else:
            environ['SERVER_NAME'] = fields[LOCAL_ADDR] or 'localhost'
            environ['SERVER_PORT'] = fields[LOCAL_PORT] or '0'

        body = request.body
        if request.flags & REQ_BODY_COMPLETE:
            environ['wsgi.input'] = RequestBody(request.id, body, 0, True) if body else EMPTY_BODY
        else:
            remaining = None
            length = environ.get('CONTENT_LENGTH')
            if length is not None and 'HTTP_TRANSFER_ENCODING' not in environ:
                remaining = int(length) - len(body)  # one value: the library merged any repeats
            environ['wsgi.input'] = RequestBody(request.id, body, remaining, False)
        return environ

    def __call__(self, request):
        if request.flags & REQ_ANSWERED:
            if request.fields[SCHEME]:  # else one in flight: its thread logs it
                self.log_answer(request)
            return
        response = Response(request.id)
        try:
            environ = self.environ(request)
        except Exception:  # a record we cannot read: our bug, not the app's
            error_log.exception('cannot build the environ for %r', request)
            response.fail(500)
            return
        protocol = environ['SERVER_PROTOCOL']
        if protocol != 'HTTP/1.0':  # 103 Early Hints always; the rest by the flags
            hints = response.early_hints
            environ['wsgi.early_hints'] = hints
            environ['gateway.extensions']['http.response.early_hint'] = hints
            if request.flags & EXTENSION_FLAGS or protocol == 'HTTP/2.0':
                self.add_extensions(request, response, environ)
        elif request.flags & REQ_TLS:  # HTTP/1.0 over TLS: nothing else applies
            self.add_tls(request, environ)
        handshake = None
        if request.flags & REQ_WEBSOCKET:
            handshake = Handshake(request.id, response, environ, self.websockets)
            environ['gateway.extensions']['websocket'] = handshake
        started = time.time() if self.log_access else 0
        failed = False
        try:
            result = self.app(environ, response.start_response)
            try:
                if handshake is not None and handshake.state != 'pending':
                    _discard(result)  # accepted or rejected: nothing more to send
                elif type(result) is list or type(result) is tuple:
                    response.finish(b''.join(result) if len(result) != 1 else result[0])
                else:
                    write = response.write
                    for chunk in result:
                        if chunk and (handshake is None or handshake.state == 'pending'):
                            write(chunk)
                    if handshake is None or handshake.state == 'pending':
                        response.finish(b'')
            finally:
                close = getattr(result, 'close', None)
                if close is not None:
                    close()
        except WebSocketClosed as exc:  # the app let the client's close through
            error_log.debug('%s %s: %s', environ['REQUEST_METHOD'], environ['PATH_INFO'], exc)
            response.fail()
        except WebSocketRefused as exc:  # answered 503 already
            error_log.info('%s %s: %s', environ['REQUEST_METHOD'], environ['PATH_INFO'], exc)
        except ContentLengthMismatch as exc:  # the library's record logs it, with the numbers
            error_log.debug('%s %s: %s', environ['REQUEST_METHOD'], environ['PATH_INFO'], exc)
        except RequestTimedOut as exc:
            error_log.warning('%s %s: %s', environ['REQUEST_METHOD'], environ['PATH_INFO'], exc)
        except ClientGone as exc:
            error_log.debug('client went away during %s %s: %s',
                            environ['REQUEST_METHOD'], environ['PATH_INFO'], exc)
        except BodyReadError as exc:
            # The client's fault, not the app's: no traceback. (Over the size
            # limit the library has usually answered 413 and ended the request
            # already; then fail() finds nothing left to do.)
            error_log.info('%s %s: %s', environ['REQUEST_METHOD'], environ['PATH_INFO'], exc)
            response.fail(BODY_ERROR_STATUS.get(exc.code, 400))
        except BaseException:  # a worker thread has nobody else to tell
            failed = True
            self.log_failure(environ, response, handshake)
            response.fail()
        finally:
            if handshake is not None and handshake.websocket is not None:
                handshake.websocket.release(failed)  # close 1000 (1011 if failed), free
        if self.log_access:
            self.log_request(environ, response, started)

    def add_extensions(self, request, response, environ):
        """The extensions that depend on the request's flags and protocol."""
        flags = request.flags
        extensions = environ['gateway.extensions']
        if flags & REQ_PUSHED:
            environ['gateway.pushed'] = True
        elif flags & REQ_PUSH:
            extensions['http.response.push'] = response.push
        if flags & REQ_TRAILERS:
            extensions['http.response.trailers'] = response.set_trailers
        if flags & REQ_CHUNKED or environ['SERVER_PROTOCOL'] == 'HTTP/2.0':
            extensions['http.request.trailers'] = RequestTrailers(request.id,
                                                                  environ['wsgi.input'])
        if flags & REQ_TLS:
            self.add_tls(request, environ)

    def add_tls(self, request, environ):
        """The 'tls' extension: only for records flagged REQ_TLS, so a
        plaintext request never calls into the library for it."""
        tls = tls_info(request.id)
        if tls is not None:
            environ['gateway.extensions']['tls'] = tls

    def log_failure(self, environ, response, handshake=None):
        if handshake is not None and handshake.websocket is not None:
            what = 'in an accepted WebSocket; closing it with 1011'
        elif response.finished:
            what = 'after the response was complete'
        elif response.sent:
            what = 'after the response started; closing the connection'
        else:
            what = 'answering 500'
        error_log.error('error in the application for %s %s (%s)',
                        environ['REQUEST_METHOD'], environ['PATH_INFO'], what,
                        exc_info=True)

    def log_answer(self, request):
        """An answer the library made itself (400, 431, 505, a 503 past the
        request timeout...): an error line with the reason, and the access
        line."""
        fields = request.fields
        status, _, reason = native_from_latin1(request.body).partition(' ')
        if status == '0':  # no answer of its own: the app's response was wrong
            error_log.error('%s %s: %s', fields[METHOD], fields[PATH], reason)
            return
        line = answer_request_line(fields[METHOD], fields[PATH], fields[QUERY], fields[PROTOCOL])
        remote = fields[REMOTE_ADDR] or '-'
        log = error_log.warning if status == '503' else error_log.info
        log('%s "%s": the server answered %s itself: %s', remote, line, status, reason)
        if self.log_access:
            entry = '%s - - [%s] "%s" %s -' % (remote, time.strftime('%d/%b/%Y:%H:%M:%S +0000', time.gmtime()),
                                              line, status)
            if self.log_access != 'common':
                headers = dict((fields[i].lower(), fields[i + 1])
                               for i in range(FIRST_HEADER, len(fields) - 1, 2))
                entry += ' "%s" "%s"' % (headers.get('referer', '-'), headers.get('user-agent', '-'))
            access_log.info('%s %.6f', entry, 0.0)

    def log_request(self, environ, response, started):
        """One line per request: the combined log format (or the common one,
        without Referer and User-Agent), the request line carrying the
        protocol (HTTP/1.1, HTTP/2.0), then the response time in seconds."""
        query = environ['QUERY_STRING']
        line = '%s - - [%s] "%s %s%s %s" %s %s' % (
            environ['REMOTE_ADDR'] or '-',
            time.strftime('%d/%b/%Y:%H:%M:%S +0000', time.gmtime(started)),
            environ['REQUEST_METHOD'], environ['PATH_INFO'], '?' + query if query else '',
            environ['SERVER_PROTOCOL'], (response.status or '-').split(' ', 1)[0],
            response.bytes_sent or '-')
        if self.log_access != 'common':
            line += ' "%s" "%s"' % (environ.get('HTTP_REFERER', '-'),
                                    environ.get('HTTP_USER_AGENT', '-'))
        access_log.info('%s %.6f', line, time.time() - started)
