"""The app the HTTP/2 checks talk to: it reads the whole request body
first, as frameworks do (so a bad body is refused before any answer), then
answers with the protocol it saw and what it read."""


def app(environ, start_response):
    handshake = environ['gateway.extensions'].get('websocket')
    if handshake is not None:
        # Echo each message back with the protocol that carries it.
        ws = handshake.accept()
        for message in ws:
            ws.send('%s %s' % (environ['SERVER_PROTOCOL'], message))
        return []
    body = environ['wsgi.input'].read()
    if environ['PATH_INFO'] == '/big':
        out = b'x' * (1 << 20)
    else:
        out = ('%s %s %s %d\n' % (environ['SERVER_PROTOCOL'], environ['gateway.http_version'],
                                  environ['REQUEST_METHOD'], len(body))).encode('ascii')
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(out)))])
    return [out]


application = app
