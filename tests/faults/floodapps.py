"""The apps test_output.py serves: a WebSocket that never sends (its client
floods pings and reads nothing), one that sends 64 KiB messages for ever
(/blast; its client reads nothing), and a 64 KiB x N streaming answer, as
WSGI (`floodapps:wsgi`) and as ASGI (`floodapps:asgi`). /last shows the
close code the WebSocket app saw, /sent how many messages /blast sent."""

import json

import portico

closes = []
blasted = {'sent': 0, 'error': None}
MESSAGE = b'x' * 65536


def wsgi(environ, start_response):
    path = environ['PATH_INFO']
    if path == '/blast':
        ws = environ['gateway.extensions']['websocket'].accept()
        try:
            while True:
                ws.send(MESSAGE)
                blasted['sent'] += 1
        except Exception as exc:  # what the app sees, recorded for the test
            blasted['error'] = repr(exc)
        return []
    if path == '/ws':
        ws = environ['gateway.extensions']['websocket'].accept()
        try:
            while True:
                ws.receive()
        except portico.WebSocketClosed as exc:
            closes.append([exc.code, exc.reason])
        return []
    if path == '/stream':
        chunks = int(environ.get('QUERY_STRING') or '3200')
        start_response('200 OK', [('Content-Type', 'application/octet-stream')])
        chunk = b'x' * 65536
        return (chunk for _ in range(chunks))
    body = json.dumps(blasted if path == '/sent' else closes).encode('ascii')
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]


async def asgi(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            message = await receive()
            await send({'type': message['type'] + '.complete'})
            if message['type'] == 'lifespan.shutdown':
                return
    if scope['type'] == 'websocket' and scope['path'] == '/blast':
        await receive()
        await send({'type': 'websocket.accept'})
        try:
            while True:
                await send({'type': 'websocket.send', 'bytes': MESSAGE})
                blasted['sent'] += 1
        except Exception as exc:
            blasted['error'] = repr(exc)
        return
    if scope['type'] == 'websocket':
        await receive()
        await send({'type': 'websocket.accept'})
        while True:
            message = await receive()
            if message['type'] == 'websocket.disconnect':
                closes.append([message['code'], message.get('reason', '')])
                return
    if scope['path'] == '/stream':
        chunks = int(scope['query_string'] or b'3200')
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        chunk = b'x' * 65536
        for _ in range(chunks):
            await send({'type': 'http.response.body', 'body': chunk, 'more_body': True})
        await send({'type': 'http.response.body', 'body': b''})
        return
    body = json.dumps(blasted if scope['path'] == '/sent' else closes).encode('ascii')
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-length', b'%d' % len(body))]})
    await send({'type': 'http.response.body', 'body': body})
