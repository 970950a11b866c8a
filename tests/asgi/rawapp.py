"""A raw ASGI 3 app for the tests: every route checks one part of the spec."""

import asyncio
import json
import time

state_seen = {}
events = []  # what the app observed, served by /events


async def app(scope, receive, send):
    kind = scope['type']
    if kind == 'lifespan':
        while True:
            message = await receive()
            if message['type'] == 'lifespan.startup':
                scope['state']['greeting'] = 'from lifespan'
                await send({'type': 'lifespan.startup.complete'})
            elif message['type'] == 'lifespan.shutdown':
                print('lifespan shutdown ran', flush=True)
                await send({'type': 'lifespan.shutdown.complete'})
                return
    if kind == 'websocket':
        return await websocket(scope, receive, send)
    path = scope['path']
    handler = ROUTES.get(path, info)
    await handler(scope, receive, send)


async def read_body(receive):
    chunks = []
    while True:
        message = await receive()
        assert message['type'] == 'http.request', message
        chunks.append(message.get('body', b''))
        if not message.get('more_body'):
            return b''.join(chunks), len(chunks)


async def reply(send, status, body, headers=()):
    await send({'type': 'http.response.start', 'status': status,
                'headers': [(b'content-type', b'application/json')] + list(headers)})
    await send({'type': 'http.response.body', 'body': body})


async def info(scope, receive, send):
    body, messages = await read_body(receive)
    out = {
        'http_version': scope['http_version'], 'method': scope['method'], 'path': scope['path'],
        'raw_path': scope['raw_path'].decode('latin-1'), 'query': scope['query_string'].decode('latin-1'),
        'scheme': scope['scheme'], 'extensions': sorted(scope.get('extensions', {})),
        'tls_version': scope.get('extensions', {}).get('tls', {}).get('tls_version'),
        'headers': [[n.decode('latin-1'), v.decode('latin-1')] for n, v in scope['headers']],
        'client': list(scope['client'] or ()), 'server': list(scope['server'] or ()),
        'state': scope.get('state', {}).get('greeting'), 'body_length': len(body),
        'body_messages': messages, 'asgi': scope['asgi'],
    }
    await reply(send, 200, json.dumps(out).encode())


async def echo(scope, receive, send):
    """Streams the request body back as it arrives, one chunk per message."""
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'application/octet-stream')]})
    while True:
        message = await receive()
        await send({'type': 'http.response.body', 'body': message.get('body', b''),
                    'more_body': message.get('more_body', False)})
        if not message.get('more_body'):
            return


async def stream(scope, receive, send):
    """Ten chunks, sent apart in time: a streaming response."""
    await read_body(receive)
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
    for i in range(10):
        await send({'type': 'http.response.body', 'body': b'chunk %d\n' % i, 'more_body': True})
        await asyncio.sleep(0.01)
    await send({'type': 'http.response.body', 'body': b'', 'more_body': False})


async def big(scope, receive, send):
    """8 MB in 64 KiB pieces: a client that reads slowly pushes back."""
    await read_body(receive)
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-length', b'%d' % (128 * 65536))]})
    piece = b'x' * 65536
    for _ in range(127):
        await send({'type': 'http.response.body', 'body': piece, 'more_body': True})
    await send({'type': 'http.response.body', 'body': piece})


async def slow(scope, receive, send):
    """Streams until the client goes away, then records the disconnect."""
    await read_body(receive)
    await send({'type': 'http.response.start', 'status': 200, 'headers': []})
    waiter = asyncio.ensure_future(receive())
    for i in range(500):
        try:
            await send({'type': 'http.response.body', 'body': b'tick\n' * 1000, 'more_body': True})
        except OSError:  # ASGI 2.4: send to a client that left raises
            await asyncio.wait_for(waiter, 5)
        await asyncio.sleep(0.01)
        if waiter.done():
            events.append(('slow', waiter.result()['type']))
            return
    events.append(('slow', 'never disconnected'))


async def sse(scope, receive, send):
    """Server-sent events every 0.1 s to a client expected to leave (with
    ?hold: one event, then only a wait in receive()). Records under the
    query's token=, with the time, what receive() returned and what send()
    raised."""
    query = dict(pair.partition('=')[::2] for pair in scope['query_string'].decode().split('&'))
    token = query.get('token', '')
    await read_body(receive)
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'text/event-stream')]})
    await send({'type': 'http.response.body', 'body': b'data: 0\n\n', 'more_body': True})

    async def watch():
        message = await receive()
        events.append(['sse', token, message['type'], time.time()])
    watcher = asyncio.ensure_future(watch())
    if 'hold' in query:
        await watcher
        return
    try:
        for i in range(1, 300):
            await asyncio.sleep(0.1)
            await send({'type': 'http.response.body', 'body': b'data: %d\n\n' % i, 'more_body': True})
    except OSError as exc:
        events.append(['sse', token, 'send raised ' + type(exc).__name__, time.time()])
        await asyncio.wait_for(watcher, 5)
        return
    watcher.cancel()
    events.append(['sse', token, 'never', time.time()])


async def wait_gone(scope, receive, send):
    """Answers the head, then waits in receive() for the client to leave."""
    await read_body(receive)
    await send({'type': 'http.response.start', 'status': 200, 'headers': []})
    await send({'type': 'http.response.body', 'body': b'waiting\n', 'more_body': True})
    message = await receive()
    events.append(('waitgone', message['type']))


async def upload_gone(scope, receive, send):
    """The client stops in the middle of its body."""
    while True:
        message = await receive()
        if message['type'] == 'http.disconnect':
            events.append(('upload', 'http.disconnect'))
            return
        if not message.get('more_body'):
            events.append(('upload', 'complete'))
            return


async def show_events(scope, receive, send):
    await read_body(receive)
    await reply(send, 200, json.dumps(events).encode())


async def hint(scope, receive, send):
    await read_body(receive)
    ext = scope['extensions']
    if 'http.response.early_hint' in ext:
        await send({'type': 'http.response.early_hint', 'links': [b'</style.css>; rel=preload; as=style']})
    await reply(send, 200, b'{"hinted": true}')


async def trailers(scope, receive, send):
    await read_body(receive)
    usable = 'http.response.trailers' in scope['extensions']
    await send({'type': 'http.response.start', 'status': 200, 'trailers': usable,
                'headers': [(b'content-type', b'text/plain'), (b'trailer', b'x-checksum')]})
    await send({'type': 'http.response.body', 'body': b'with trailers\n', 'more_body': True})
    await send({'type': 'http.response.body', 'body': b'', 'more_body': False})
    if usable:
        await send({'type': 'http.response.trailers', 'headers': [(b'x-checksum', b'abc123')],
                    'more_trailers': False})


async def push(scope, receive, send):
    await read_body(receive)
    if 'http.response.push' in scope['extensions']:
        await send({'type': 'http.response.push', 'path': '/pushed.css', 'headers': [(b'accept', b'text/css')]})
    await reply(send, 200, b'{"pushed": true}')


async def pushed(scope, receive, send):
    await read_body(receive)
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/css')]})
    await send({'type': 'http.response.body', 'body': b'body { color: green }'})


async def crash(scope, receive, send):
    raise ValueError('boom')


async def noresponse(scope, receive, send):
    return


async def nul_header(scope, receive, send):
    await read_body(receive)
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'x-split', b'a\0b')]})
    await send({'type': 'http.response.body', 'body': b'never'})


async def crlf_header(scope, receive, send):
    # No NUL: the binding passes it on, and the library refuses the CR LF.
    await read_body(receive)
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'x-split', b'a\r\nx-injected: 1')]})
    await send({'type': 'http.response.body', 'body': b'never'})


async def nap(scope, receive, send):
    """Sleeps ?s= seconds, then answers 200 in one go (past a request timeout)."""
    await read_body(receive)
    await asyncio.sleep(float(dict(p.split('=') for p in scope['query_string'].decode().split('&') if p).get('s', 1)))
    await reply(send, 200, b'{}')


async def wrong_length(scope, receive, send):
    """Declares ?cl= bytes and sends ?n=, in one message or, with
    ?chunks=1, one per byte."""
    query = dict(p.split('=') for p in scope['query_string'].decode().split('&') if p)
    await read_body(receive)
    given = int(query.get('n', 19))
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-length', query.get('cl', '3').encode())]})
    if query.get('chunks') == '1':
        for _ in range(given):
            await send({'type': 'http.response.body', 'body': b'x', 'more_body': True})
        await send({'type': 'http.response.body', 'body': b''})
    else:
        await send({'type': 'http.response.body', 'body': b'x' * given})


ROUTES = {'/wronglen': wrong_length, '/nap': nap, '/waitgone': wait_gone, '/echo': echo, '/stream': stream, '/big': big, '/slow': slow,
          '/upload': upload_gone, '/sse': sse,
          '/events': show_events, '/hint': hint, '/trailers': trailers, '/push': push,
          '/pushed.css': pushed, '/crash': crash, '/noresponse': noresponse,
          '/nul': nul_header, '/crlf': crlf_header}


async def websocket(scope, receive, send):
    message = await receive()
    assert message['type'] == 'websocket.connect', message
    path = scope['path']
    if path == '/deny':
        await send({'type': 'websocket.http.response.start', 'status': 401,
                    'headers': [(b'content-type', b'text/plain'), (b'www-authenticate', b'Token')]})
        await send({'type': 'websocket.http.response.body', 'body': b'no ', 'more_body': True})
        await send({'type': 'websocket.http.response.body', 'body': b'entry'})
        return
    if path == '/reject':
        await send({'type': 'websocket.close', 'code': 1000})
        return
    subprotocol = 'chat' if 'chat' in scope['subprotocols'] else None
    await send({'type': 'websocket.accept', 'subprotocol': subprotocol,
                'headers': [(b'x-asgi', b'yes')]})
    await send({'type': 'websocket.send',
                'text': 'hello %s %s' % (scope['http_version'], ','.join(sorted(scope['extensions'])))})
    while True:
        message = await receive()
        if message['type'] == 'websocket.disconnect':
            events.append(('ws', message['code']))
            return
        text = message.get('text')
        if text is not None and text.startswith('close:'):
            await send({'type': 'websocket.close', 'code': int(text[6:]), 'reason': 'asked to'})
            final = await receive()
            events.append(('ws-after-close', final['type']))
            return
        if text is not None:
            await send({'type': 'websocket.send', 'text': text})
        else:
            await send({'type': 'websocket.send', 'bytes': message['bytes']})
