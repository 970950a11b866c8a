"""The app tests/faults serves (`portico serve faultapps:app`): endpoints that
fail, hang, stream or hold a WebSocket on purpose, and /stats and /last
through which the tests see what the apps and the library went through."""

import json
import threading
import time

import portico

last = {}
calls = {}  # app calls by path, for /stats
lock = threading.Lock()
released = threading.Event()


def record(name, value):
    with lock:
        last[name] = value


def query_value(environ, name, default=None):
    for pair in environ['QUERY_STRING'].split('&'):
        key, _, value = pair.partition('=')
        if key == name:
            return value
    return default


def answer(start_response, body, status='200 OK'):
    if not isinstance(body, bytes):
        body = json.dumps(body, sort_keys=True).encode('utf-8')
    start_response(status, [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]


class Stream(object):
    """N chunks of 64 KiB; records how far it got and whether close() ran."""

    def __init__(self, tag, chunks):
        self.tag, self.chunks, self.sent = tag, chunks, 0

    def __iter__(self):
        chunk = b'x' * 65536
        for _ in range(self.chunks):
            self.sent += 1
            yield chunk

    def close(self):
        record(self.tag, {'closed': True, 'complete': self.sent == self.chunks})


def read_body(environ):
    try:
        data = environ['wsgi.input'].read()
        record('read-body', ['ok', len(data)])
    except Exception as exc:  # what the app sees when the client vanishes
        record('read-body', [type(exc).__name__, isinstance(exc, IOError)])
        raise


def hold_websocket(environ):
    ws = environ['gateway.extensions']['websocket'].accept()
    tag = query_value(environ, 'tag', 'ws')
    record(tag, 'open')
    try:
        while True:
            ws.receive()
    except portico.WebSocketClosed as exc:
        record(tag, [exc.code])


def app(environ, start_response):
    path = environ['PATH_INFO']
    with lock:
        calls[path] = calls.get(path, 0) + 1
    if path == '/ok':
        return answer(start_response, b'ok\n')
    if path == '/stats':
        stats = portico.debug_stats()
        stats['threads'] = threading.active_count()
        with lock:
            stats['calls'] = dict(calls)
        return answer(start_response, stats)
    if path == '/last':
        with lock:
            return answer(start_response, last.get(query_value(environ, 'name')))
    if path == '/raise-before':
        raise RuntimeError('failing before start_response, on purpose')
    if path == '/raise-after':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        raise RuntimeError('failing after start_response, on purpose')
    if path == '/raise-midstream':
        def body():
            yield b'first part\n'
            raise RuntimeError('failing mid-body, on purpose')
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return body()
    if path == '/read-body':
        read_body(environ)
        return answer(start_response, b'read\n')
    if path == '/ignore-body':
        return answer(start_response, b'ignored\n')
    if path == '/stream':
        start_response('200 OK', [('Content-Type', 'application/octet-stream')])
        return Stream(query_value(environ, 'tag', 'stream'), int(query_value(environ, 'n', '4')))
    if path == '/slow':
        time.sleep(float(query_value(environ, 's', '1')))
        return answer(start_response, b'slow done\n')
    if path == '/block':
        record('block', 'blocked')
        released.wait(30)
        released.clear()
        try:
            result = answer(start_response, b'too late\n')
            record('block', 'answered')
            return result
        except Exception as exc:
            record('block', type(exc).__name__)
            raise
    if path == '/release':
        released.set()
        return answer(start_response, b'released\n')
    if path == '/ws-echo':
        ws = environ['gateway.extensions']['websocket'].accept()
        for message in ws:
            ws.send(message)
        return []
    if path == '/ws-hold':
        hold_websocket(environ)
        return []
    return answer(start_response, b'no such fault\n', '404 Not Found')
