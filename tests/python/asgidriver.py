"""An in-process ASGI driver for test_shim.py (Python 3.6+ only: imported
there only on 3): runs an ASGI app on a fresh event loop with a queue for
receive() and a list for what it sends."""

import asyncio


def run_asgi(app, scope, messages=(), later=(), timeout=10.0):
    """Run APP for SCOPE. MESSAGES are there for receive() from the start;
    LATER is [(delay_s, message)] put in after DELAY_S. Returns (sent, error):
    the messages the app sent and the exception it raised (or None)."""
    loop = asyncio.new_event_loop()
    sent = []

    async def main():
        queue = asyncio.Queue()
        for message in messages:
            queue.put_nowait(message)
        for delay, message in later:
            loop.call_later(delay, queue.put_nowait, message)

        async def receive():
            return await queue.get()

        async def send(message):
            sent.append(message)

        try:
            await asyncio.wait_for(app(scope, receive, send), timeout)
        except Exception as exc:
            return exc
        return None

    try:
        error = loop.run_until_complete(main())
    finally:
        loop.close()
    return sent, error


def http_scope(path='/', method='GET', headers=(), extensions=None, http_version='1.1',
               query_string=b''):
    return {'type': 'http', 'asgi': {'version': '3.0'}, 'http_version': http_version,
            'method': method, 'scheme': 'http', 'path': path, 'raw_path': path.encode('utf-8'),
            'query_string': query_string, 'root_path': '', 'headers': list(headers),
            'client': ('127.0.0.1', 5000), 'server': ('127.0.0.1', 8000),
            'extensions': extensions or {}}


def websocket_scope(path='/ws', subprotocols=(), extensions=None):
    scope = http_scope(path, extensions=extensions)
    scope['type'] = 'websocket'
    scope['scheme'] = 'ws'
    scope['subprotocols'] = list(subprotocols)
    return scope
