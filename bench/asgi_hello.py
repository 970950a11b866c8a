# The benchmark app for ASGI servers (uvicorn, hypercorn, daphne, Portico's
# ASGI interface): the same logic as wsgi_hello.py, path for path, reading the
# request before responding as frameworks do (peers.md), plus a WebSocket echo
# (text back as text, bytes back as bytes) and lifespan.
BODY = b'Hello, world!\n'
BODY_10K = b'x' * 10240
HELLO_HEADERS = [(b'content-type', b'text/plain'), (b'content-length', b'14')]
HEADERS_10K = [(b'content-type', b'text/plain'), (b'content-length', b'10240')]


async def app(scope, receive, send):
    kind = scope['type']
    if kind == 'lifespan':
        while True:
            message = await receive()
            if message['type'] == 'lifespan.startup':
                await send({'type': 'lifespan.startup.complete'})
            elif message['type'] == 'lifespan.shutdown':
                await send({'type': 'lifespan.shutdown.complete'})
                return
    if kind == 'websocket':  # the echo of the WebSocket scenarios
        await receive()  # websocket.connect
        await send({'type': 'websocket.accept'})
        while True:
            message = await receive()
            if message['type'] == 'websocket.disconnect':
                return
            await send({'type': 'websocket.send', 'text': message.get('text'), 'bytes': message.get('bytes')})
    path = scope['path']
    if path == '/echo':
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get('body', b''))
            if not message.get('more_body'):
                break
        body = b''.join(chunks)
        await send({'type': 'http.response.start', 'status': 200,
                    'headers': [(b'content-type', b'application/octet-stream'),
                                (b'content-length', str(len(body)).encode())]})
        await send({'type': 'http.response.body', 'body': body})
        return
    while (await receive()).get('more_body'):
        pass
    if path == '/10k':
        await send({'type': 'http.response.start', 'status': 200, 'headers': HEADERS_10K})
        await send({'type': 'http.response.body', 'body': BODY_10K})
        return
    await send({'type': 'http.response.start', 'status': 200, 'headers': HELLO_HEADERS})
    await send({'type': 'http.response.body', 'body': BODY})
