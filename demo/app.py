"""The Portico demo app (`make run`): a page showing the protocol the request
came over and the gateway extensions the server offered for it, /echo that
echoes a POST body, and /stream that streams chunks as they are made."""

import time

try:
    from html import escape
except ImportError:  # Python 2
    from cgi import escape

PAGE = u"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Portico</title>
<style>
 body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 44rem; margin: 3rem auto; color: #222; }}
 h1 {{ font-weight: 600; }} h1 span {{ color: #7a4; }}
 table {{ border-collapse: collapse; width: 100%; }}
 td {{ padding: .35rem .6rem; border-bottom: 1px solid #eee; }}
 td:first-child {{ color: #666; width: 14rem; }} code {{ background: #f4f4f4; padding: 0 .25rem; }}
 form {{ margin-top: 1rem; }} textarea {{ width: 100%; height: 4rem; }}
</style></head><body>
<h1>Portico <span>serving</span></h1>
<p>This page came to you over <strong>{protocol}</strong>.</p>
<table>
<tr><td>SERVER_PROTOCOL</td><td><code>{protocol}</code></td></tr>
<tr><td>gateway.http_version</td><td><code>{http_version}</code></td></tr>
<tr><td>gateway.version</td><td><code>{gateway_version}</code></td></tr>
<tr><td>gateway.extensions</td><td>{extensions}</td></tr>
<tr><td>wsgi.url_scheme</td><td><code>{scheme}</code></td></tr>
<tr><td>your address</td><td><code>{remote}</code></td></tr>
</table>
<form method="post" action="/echo"><p>POST a body to <code>/echo</code>:</p>
<textarea name="text">hello, portico</textarea><br><button>echo it</button></form>
<p><a href="/stream">/stream</a> sends ten chunks, a fifth of a second apart.</p>
</body></html>
"""


def index(environ, start_response):
    extensions = sorted(environ.get('gateway.extensions', {}))
    body = PAGE.format(
        protocol=escape(environ['SERVER_PROTOCOL']),
        http_version=escape(environ.get('gateway.http_version', '?')),
        gateway_version=escape(repr(environ.get('gateway.version'))),
        extensions=', '.join('<code>%s</code>' % escape(name) for name in extensions)
        or '<em>none offered on this request</em>',
        scheme=escape(environ['wsgi.url_scheme']),
        remote=escape('%s:%s' % (environ.get('REMOTE_ADDR'), environ.get('REMOTE_PORT'))),
    ).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'text/html; charset=utf-8'),
                              ('Content-Length', str(len(body)))])
    return [body]


def echo(environ, start_response):
    if environ['REQUEST_METHOD'] != 'POST':
        start_response('405 Method Not Allowed', [('Allow', 'POST'),
                                                  ('Content-Type', 'text/plain')])
        return [b'POST something here\n']
    body = environ['wsgi.input'].read()
    start_response('200 OK', [('Content-Type', environ.get('CONTENT_TYPE') or
                               'application/octet-stream')])
    return [body]


def stream(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain; charset=utf-8'),
                              ('X-Content-Type-Options', 'nosniff')])

    def chunks():
        for number in range(1, 11):
            yield ('chunk %d of 10, at %.3f\n' % (number, time.time())).encode('ascii')
            if number < 10:
                time.sleep(0.2)
    return chunks()


def not_found(environ, start_response):
    start_response('404 Not Found', [('Content-Type', 'text/plain')])
    return [b'not found\n']


ROUTES = {'/': index, '/echo': echo, '/stream': stream}


def application(environ, start_response):
    return ROUTES.get(environ['PATH_INFO'], not_found)(environ, start_response)
