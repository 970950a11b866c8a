"""The WebSocket applications test_websocket.py serves (`portico serve wsapps:app`).

Endpoints that accept a WebSocket answer on it; /last and /stats are plain
HTTP endpoints through which the tests read what the WebSocket apps saw.
"""

import json
import threading
import time

import portico

calls = {'count': 0}
last = {}                 # name -> what an app recorded, for /last?name=
lock = threading.Lock()


def record(name, value):
    with lock:
        last[name] = value


def query_value(environ, name, default=None):
    for pair in environ['QUERY_STRING'].split('&'):
        key, _, value = pair.partition('=')
        if key == name:
            return value
    return default


def plain(start_response, body, status='200 OK', content_type='text/plain'):
    if not isinstance(body, bytes):
        body = json.dumps(body, sort_keys=True).encode('utf-8')
        content_type = 'application/json'
    start_response(status, [('Content-Type', content_type)])
    return [body]


def echo(environ, ws):
    for message in ws:
        ws.send(message)
    record(query_value(environ, 'tag', 'echo'), [ws.close_code, ws.close_reason])


def info(environ, ws):
    hs = environ['gateway.extensions']['websocket']
    ws.send(json.dumps({'subprotocols': hs.subprotocols, 'extensions': hs.extensions,
                        'subprotocol': ws.subprotocol,
                        'protocol': environ['SERVER_PROTOCOL']}))
    echo(environ, ws)


def timeout(environ, ws):
    started = time.time()
    try:
        ws.receive(timeout=0.3)
        ws.send(u'no timeout')
    except portico.WebSocketTimeout:
        ws.send(u'timeout after %.1f' % (time.time() - started))
    echo(environ, ws)


def hold(environ, ws):
    try:
        while True:
            ws.receive()
    except portico.WebSocketClosed as exc:
        tag = query_value(environ, 'tag', 'hold')
        # Every later call raises too.
        try:
            ws.receive(timeout=0.1)
        except portico.WebSocketClosed as again:
            record(tag + '-again', [again.code, again.reason])
        try:
            ws.send(u'too late')
        except portico.WebSocketClosed as sending:
            record(tag + '-send', [sending.code, sending.reason])
        record(tag, [exc.code, exc.reason, ws.closed, ws.close_code, ws.close_reason])


def server_close(environ, ws):
    ws.receive()
    ws.close(4000, u'bye now')
    try:
        while True:
            ws.receive(timeout=5)
    except portico.WebSocketClosed as exc:
        record('server-close', [exc.code, exc.reason])


def ping(environ, ws):
    ws.ping(b'are you there')
    echo(environ, ws)


def fail(environ, ws):
    ws.receive()
    raise RuntimeError('the app failed after accepting (on purpose)')


def ticker(environ, ws):
    """Another thread sends while this one receives."""
    def tick():
        for number in range(5):
            ws.send(u'tick %d' % number)
            time.sleep(0.02)
    thread = threading.Thread(target=tick)
    thread.start()
    message = ws.receive()
    thread.join()
    ws.send(u'got ' + message)
    echo(environ, ws)


def big(environ, ws):
    size = int(query_value(environ, 'size', '1048576'))
    ws.send(b'\xab' * size)
    echo(environ, ws)


def bad_proto(environ, hs):
    try:
        hs.accept(subprotocol='not-offered')
    except ValueError as exc:
        ws = hs.accept()
        ws.send(u'ValueError: ' + str(exc)[:40])
        echo(environ, ws)


ACCEPTING = {'/echo': echo, '/info': info, '/timeout': timeout, '/hold': hold,
             '/server-close': server_close, '/ping': ping, '/fail': fail, '/ticker': ticker,
             '/big': big}


def app(environ, start_response):
    with lock:
        calls['count'] += 1
    path = environ['PATH_INFO']
    extensions = environ['gateway.extensions']
    hs = extensions.get('websocket')
    if path == '/plain':
        return plain(start_response, b'plain\n')
    if path == '/extensions':
        return plain(start_response, sorted(extensions))
    if path == '/calls':
        return plain(start_response, calls['count'])
    if path == '/last':
        with lock:
            return plain(start_response, last.get(query_value(environ, 'name')))
    if path == '/stats':
        names = sorted(t.name for t in threading.enumerate())
        return plain(start_response, {'threads': threading.active_count(), 'names': names})
    if hs is None:
        return plain(start_response, b'not a WebSocket handshake\n', '400 Bad Request')
    if path == '/reject':
        hs.reject(403, [('Content-Type', 'text/plain'), ('X-Why', 'not allowed')],
                  b'forbidden\n')
        return []
    if path == '/bad-proto':
        bad_proto(environ, hs)
        return []
    if path == '/generator':
        return generator(environ, hs)
    handler = ACCEPTING.get(path)
    if handler is None:
        return plain(start_response, b'no such WebSocket\n', '404 Not Found')
    pick = query_value(environ, 'pick')
    subprotocol = None
    if pick == 'last' and hs.subprotocols:
        subprotocol = hs.subprotocols[-1]
    ws = hs.accept(subprotocol=subprotocol, headers=[('X-Portico-Test', 'yes')])
    handler(environ, ws)
    return []


def generator(environ, hs):
    """A generator app: the accept happens while the adapter iterates."""
    ws = hs.accept()
    ws.send(u'from a generator')
    yield b'this chunk is never sent'
    echo(environ, ws)
