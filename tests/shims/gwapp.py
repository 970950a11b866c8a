"""One gateway app, run under every container by tests/shims: through
portico.shim.to_wsgi (`application`) under WSGI containers, through
portico.shim.to_asgi (`asgi_application`) under ASGI servers, and as is
(`gateway_app`) under Portico.

GET  /info   JSON: what the app was told (gateway.http_version, extension keys, ...)
POST /echo   the request body back
GET  /hints  103 Early Hints where offered, then "hinted" or "no hints"
GET  /push   pushes /info where offered: "pushed True|False|None"
GET  /trailers  the trailer X-Checksum where offered
GET  /stream a body in three chunks (a generator)
GET  /wsgen  the same echo from a generator app (accepted while iterated)
GET  /ws     WebSocket echo where offered (text and binary, until the client
             closes; the message "close" makes the server close with 4001);
             ?timeout first waits 0.3 s for a message and says "timed out";
             ?reject answers 403; ?version first says "over HTTP/<version>"
             426 where the container offers no WebSocket
"""

import json
import sys

from portico import WebSocketTimeout
from portico.shim import to_asgi, to_wsgi

# Always passed as a copy: a server may add to the list it gets (wsgiref adds
# Content-Length), which would leak into the next response.
TEXT = [('Content-Type', 'text/plain; charset=utf-8')]
LINK = '</style.css>; rel=preload; as=style'


def gateway_app(environ, start_response):
    path = environ.get('PATH_INFO', '')
    extensions = environ['gateway.extensions']
    if path == '/info':
        body = json.dumps({
            'gateway.version': list(environ['gateway.version']),
            'http_version': environ['gateway.http_version'],
            'server_protocol': environ['SERVER_PROTOCOL'],
            'extensions': sorted(extensions),
            'input_terminated': environ.get('wsgi.input_terminated', False),
            'tls': extensions.get('tls'),
            'python': sys.version_info[0],
        }, sort_keys=True).encode('utf-8')
        start_response('200 OK', [('Content-Type', 'application/json'),
                                  ('Content-Length', str(len(body)))])
        return [body]
    if path == '/echo':
        length = environ.get('CONTENT_LENGTH')
        if length:
            body = environ['wsgi.input'].read(int(length))
        elif environ.get('wsgi.input_terminated'):
            body = environ['wsgi.input'].read()
        else:
            body = b''
        start_response('200 OK', TEXT + [('Content-Length', str(len(body)))])
        return [body]
    if path == '/hints':
        hint = extensions.get('http.response.early_hint')
        if hint is not None:
            hint([('Link', LINK)])
        start_response('200 OK', TEXT + [('Link', LINK)])
        return [b'hinted\n' if hint is not None else b'no hints\n']
    if path == '/push':
        push = extensions.get('http.response.push')
        pushed = push('/info') if push is not None else None
        start_response('200 OK', list(TEXT))
        return [('pushed %s\n' % pushed).encode('ascii')]
    if path == '/trailers':
        set_trailers = extensions.get('http.response.trailers')
        start_response('200 OK', list(TEXT))
        if set_trailers is not None:
            set_trailers([('X-Checksum', 'abc123')])
        return [b'with trailers\n' if set_trailers is not None else b'no trailers\n']
    if path == '/stream':
        start_response('200 OK', list(TEXT))
        return (('chunk %d\n' % i).encode('ascii') for i in range(3))
    if path == '/ws':
        handshake = extensions.get('websocket')
        if handshake is None:
            start_response('426 Upgrade Required', list(TEXT))
            return [b'no websocket here\n']
        if environ.get('QUERY_STRING') == 'reject':
            handshake.reject(403, TEXT, b'go away\n')
            return []
        proto = 'echo' if 'echo' in handshake.subprotocols else None
        ws = handshake.accept(subprotocol=proto)
        if environ.get('QUERY_STRING') == 'version':
            ws.send(u'over HTTP/' + environ['gateway.http_version'])
        if environ.get('QUERY_STRING') == 'timeout':
            try:
                ws.receive(timeout=0.3)
                ws.send(u'no timeout')
            except WebSocketTimeout:
                ws.send(u'timed out')  # still open: go on echoing
        for message in ws:
            if message in ('close', b'close'):
                ws.close(4001, 'asked to')
                break
            ws.send(message)
        return []
    if path == '/wsgen':
        return websocket_generator(extensions.get('websocket'), start_response)
    start_response('404 Not Found', list(TEXT))
    return [b'not found\n']


def websocket_generator(handshake, start_response):
    """A generator app: the handshake is answered while the server iterates."""
    if handshake is None:
        start_response('426 Upgrade Required', list(TEXT))
        yield b'no websocket here\n'
        return
    ws = handshake.accept()
    ws.send(u'from a generator')
    for message in ws:
        ws.send(message)


application = to_wsgi(gateway_app)

if sys.version_info >= (3, 6):
    asgi_application = to_asgi(gateway_app)
