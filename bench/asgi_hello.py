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
    while (await receive()).get('more_body'):
        pass
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'text/plain'), (b'content-length', b'14')]})
    await send({'type': 'http.response.body', 'body': BODY})
