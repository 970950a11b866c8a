# The benchmark app for ASGI servers (hypercorn): the same 14-byte answer,
# after reading the request as frameworks do (peers.md).
BODY = b'Hello, world!\n'


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            message = await receive()
            if message['type'] == 'lifespan.startup':
                await send({'type': 'lifespan.startup.complete'})
            elif message['type'] == 'lifespan.shutdown':
                await send({'type': 'lifespan.shutdown.complete'})
                return
    if scope['type'] == 'websocket':  # the echo of the WebSocket scenario
        await receive()  # websocket.connect
        await send({'type': 'websocket.accept'})
        while True:
            message = await receive()
            if message['type'] == 'websocket.disconnect':
                return
            await send({'type': 'websocket.send', 'text': message.get('text'), 'bytes': message.get('bytes')})
    while (await receive()).get('more_body'):
        pass
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'text/plain'), (b'content-length', b'14')]})
    await send({'type': 'http.response.body', 'body': BODY})
