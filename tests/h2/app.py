"""The app the HTTP/2 checks talk to: it reads the whole request body
first, as frameworks do (so a bad body is refused before any answer), then
answers with the protocol it saw and what it read.

Paths for the gateway extensions: /push pushes /pushed.css, which answers
CSS saying whether it came as a push; /trailers sends the trailer
x-trailer: yes; /early sends 103 Early Hints first; /request-trailers
answers the request's trailers; /unread answers at once without reading the
body (RFC 9113 8.1: h2spec runs against it too, so the checks of the rest of
a request after an early answer are proven)."""

CSS = b'body { color: #333 }\n'


def app(environ, start_response):
    handshake = environ['gateway.extensions'].get('websocket')
    if handshake is not None:
        # Echo each message back with the protocol that carries it.
        ws = handshake.accept()
        for message in ws:
            ws.send('%s %s' % (environ['SERVER_PROTOCOL'], message))
        return []
    extensions = environ['gateway.extensions']
    path = environ['PATH_INFO']
    if path == '/unread':
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '7')])
        return [b'unread\n']
    body = environ['wsgi.input'].read()
    headers = [('Content-Type', 'text/plain')]
    if path == '/big':
        out = b'x' * (1 << 20)
    elif path == '/pushed.css':
        pushed = environ.get('gateway.pushed', False)
        out = CSS + ('/* pushed=%s push-offered=%s */\n' % (
            pushed, 'http.response.push' in extensions)).encode('ascii')
        headers = [('Content-Type', 'text/css')]
    elif path == '/push':
        push = extensions.get('http.response.push')
        promised = push('/pushed.css') if push is not None else None
        out = ('push %s\n' % promised).encode('ascii')
    elif path == '/trailers':
        set_trailers = extensions.get('http.response.trailers')
        if set_trailers is not None:
            set_trailers([('x-trailer', 'yes')])
        out = ('trailers %s\n' % (set_trailers is not None)).encode('ascii')
    elif path == '/early':
        hint = extensions.get('http.response.early_hint')
        if hint is not None:
            hint([('Link', '</pushed.css>; rel=preload; as=style')])
        out = ('early %s\n' % (hint is not None)).encode('ascii')
    elif path == '/request-trailers':
        get_trailers = extensions.get('http.request.trailers')
        trailers = get_trailers() if get_trailers is not None else []
        out = ('%s %d %s\n' % (environ['SERVER_PROTOCOL'], len(body), ' '.join(
            '%s=%s' % pair for pair in trailers) or '-')).encode('latin-1')
    else:
        out = ('%s %s %s %d\n' % (environ['SERVER_PROTOCOL'], environ['gateway.http_version'],
                                  environ['REQUEST_METHOD'], len(body))).encode('ascii')
    start_response('200 OK', headers + [('Content-Length', str(len(out)))])
    return [out]


application = app
