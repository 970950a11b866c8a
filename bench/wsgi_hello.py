# The benchmark app for WSGI servers (Portico, uWSGI, gunicorn): the same logic
# as asgi_hello.py and bench/go/h2hello, path for path (peers.md):
#   /      200, text/plain, 14 bytes "Hello, world!\n"
#   /10k   200, text/plain, 10,240 bytes
#   /echo  200, application/octet-stream, the request body sent back
BODY = b'Hello, world!\n'
BODY_10K = b'x' * 10240


def app(environ, start_response):
    path = environ.get('PATH_INFO', '/')
    if path == '/echo':
        length = int(environ.get('CONTENT_LENGTH') or 0)
        body = environ['wsgi.input'].read(length) if length else b''
        start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                                  ('Content-Length', str(len(body)))])
        return [body]
    body = BODY_10K if path == '/10k' else BODY
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]


application = app
