"""An ASGI app whose startup fails: the server must not serve."""


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        await receive()
        await send({'type': 'lifespan.startup.failed', 'message': 'database unreachable'})
        return
    await send({'type': 'http.response.start', 'status': 200, 'headers': []})
    await send({'type': 'http.response.body', 'body': b'should never serve'})


async def raising(scope, receive, send):
    if scope['type'] == 'lifespan':
        await receive()
        raise RuntimeError('cannot start')
    await send({'type': 'http.response.start', 'status': 200, 'headers': []})
    await send({'type': 'http.response.body', 'body': b'served without lifespan'})
