"""A gateway app that uses what the server offers and works without it.

    portico serve hello:app                       # Portico: everything on offer
    gunicorn hello:application                    # any WSGI container, via the shim
    uwsgi --plugin python3 --http11-socket :8000 --wsgi-file hello.py   # + WebSocket
    uvicorn hello:asgi_application                # any ASGI server, via the shim

tests/shims/test_examples.py runs it under each of these and checks the answers.
"""

import sys

from portico.shim import to_asgi, to_wsgi


def app(environ, start_response):
    extensions = environ.get('gateway.extensions', {})  # absent: a plain WSGI server
    version = environ.get('gateway.http_version', '?')

    ws = extensions.get('websocket')
    if ws is not None:                    # a WebSocket handshake, on any protocol
        sock = ws.accept()
        for message in sock:              # str for text, bytes for binary
            sock.send(message)
        return []

    hint = extensions.get('http.response.early_hint')
    if hint is not None:                  # 103 Early Hints, before the response
        hint([('Link', '</style.css>; rel=preload; as=style')])
    push = extensions.get('http.response.push')
    pushed = push is not None and push('/style.css')   # False: the client said no
    set_trailers = extensions.get('http.response.trailers')

    start_response('200 OK', [('Content-Type', 'text/plain; charset=utf-8')])
    body = ('hello over HTTP/%s; pushed: %s; offered: %s\n'
            % (version, pushed, ', '.join(sorted(extensions)) or 'nothing')).encode('utf-8')
    if set_trailers is not None:          # sent after the body
        set_trailers([('X-Body-Length', str(len(body)))])
    return [body]


application = to_wsgi(app)                # for WSGI containers
if sys.version_info >= (3, 6):
    asgi_application = to_asgi(app)       # for ASGI servers
