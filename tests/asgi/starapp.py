"""A Starlette app (Debian's python3-starlette) on Portico."""

import contextlib

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute

STARTED = []


async def home(request):
    return JSONResponse({'http_version': request.scope['http_version'],
                         'state': getattr(request.app.state, 'greeting', None),
                         'query': request.query_params.get('q')})


async def upload(request):
    size, chunks = 0, 0
    async for chunk in request.stream():
        size += len(chunk)
        chunks += 1
    return JSONResponse({'size': size, 'chunks': chunks})


async def numbers(request):
    async def generate():
        for i in range(5):
            yield 'line %d\n' % i
    return StreamingResponse(generate(), media_type='text/plain')


async def form(request):
    data = await request.json()
    return PlainTextResponse('hello %s' % data['name'])


async def ws_echo(websocket):
    await websocket.accept(subprotocol='chat' if 'chat' in websocket.scope['subprotocols'] else None)
    while True:
        message = await websocket.receive()
        if message['type'] == 'websocket.disconnect':
            return
        if message.get('text') is not None:
            await websocket.send_text('echo ' + message['text'])
        else:
            await websocket.send_bytes(message['bytes'][::-1])


@contextlib.asynccontextmanager
async def lifespan(app):
    app.state.greeting = 'started'
    yield


app = Starlette(routes=[Route('/', home), Route('/upload', upload, methods=['POST']),
                        Route('/numbers', numbers), Route('/form', form, methods=['POST']),
                        WebSocketRoute('/ws', ws_echo)], lifespan=lifespan)
