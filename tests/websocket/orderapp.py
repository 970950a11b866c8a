"""Echo apps for order_client.py: every message goes back as it came.
`app` is WSGI (the blocking WebSocket object), `asgi_app` is ASGI 3."""


def app(environ, start_response):
    handshake = environ['gateway.extensions'].get('websocket')
    if handshake is None:
        start_response('426 Upgrade Required', [('Upgrade', 'websocket')])
        return [b'WebSocket only\n']
    ws = handshake.accept()
    for message in ws:
        ws.send(message)
    return []


async def asgi_app(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            message = await receive()
            if message['type'] == 'lifespan.startup':
                await send({'type': 'lifespan.startup.complete'})
            else:
                await send({'type': 'lifespan.shutdown.complete'})
                return
    if scope['type'] != 'websocket':
        await send({'type': 'http.response.start', 'status': 426, 'headers': [(b'upgrade', b'websocket')]})
        await send({'type': 'http.response.body', 'body': b'WebSocket only\n'})
        return
    await receive()  # websocket.connect
    await send({'type': 'websocket.accept'})
    while True:
        message = await receive()
        if message['type'] == 'websocket.disconnect':
            return
        if message.get('text') is not None:
            await send({'type': 'websocket.send', 'text': message['text']})
        else:
            await send({'type': 'websocket.send', 'bytes': message['bytes']})
