# The benchmark app: the same 14-byte answer in every server (peers.md).
BODY = b'Hello, world!\n'


def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(BODY)))])
    return [BODY]


application = app
