"""Plain WSGI middleware, knowing nothing of the gateway interface, between
Portico and the gateway app of gwapp.py (requirement: shims like WebOb keep
working, and one layer of a stack can be upgraded at a time).

webob_stack        a WebOb middleware: webob.Request to inspect the request
                   (a header, the query), then the app; plain requests go
                   through req.get_response(app) so it can edit the response
wrapping_stack     a start_response-wrapping middleware that adds a header
                   and wraps the body iterable (closing it), as many do
both_stack         the two, stacked
"""

import webob

from gwapp import gateway_app


def webob_middleware(app):
    def middleware(environ, start_response):
        req = webob.Request(environ)
        if req.GET.get('deny'):
            return webob.Response('denied by webob\n', status=403)(environ, start_response)
        req.environ['mw.seen'] = req.headers.get('User-Agent', '')
        if 'websocket' in req.headers.get('Upgrade', '').lower():
            # A WebSocket never calls start_response: hand over as is.
            return app(environ, start_response)
        resp = req.get_response(app)
        resp.headers['X-WebOb'] = 'yes'
        return resp(environ, start_response)
    return middleware


class Wrapped(object):
    """The body iterable, wrapped, with close() passed on (PEP 3333)."""

    def __init__(self, result):
        self.result = result

    def __iter__(self):
        for chunk in self.result:
            yield chunk

    def close(self):
        close = getattr(self.result, 'close', None)
        if close is not None:
            close()


def wrapping_middleware(app):
    def middleware(environ, start_response):
        def wrapped_start_response(status, headers, exc_info=None):
            return start_response(status, headers + [('X-Wrapped', 'yes')], exc_info)
        return Wrapped(app(environ, wrapped_start_response))
    return middleware


webob_stack = webob_middleware(gateway_app)
wrapping_stack = wrapping_middleware(gateway_app)
both_stack = wrapping_middleware(webob_middleware(gateway_app))
