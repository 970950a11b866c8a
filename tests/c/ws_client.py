"""WebSocket echo against tests/c/container.c with Debian's python3-websockets:
text, binary (1 MiB too), with and without permessage-deflate, a ping, and
a clean close 1000. Usage: ws_client.py PORT. Prints one line per case;
exits non-zero on any failure."""

import asyncio
import sys

import websockets

URL = 'ws://127.0.0.1:%d/ws' % int(sys.argv[1])


async def echo(compression):
    async with websockets.connect(URL, compression=compression, max_size=None,
                                  open_timeout=30, close_timeout=30) as ws:
        ext = ws.response_headers.get('Sec-WebSocket-Extensions')
        assert (ext is not None) == (compression == 'deflate'), ext
        for message in ['hello', 'h\u00e9llo \u2603', '', b'\x00\x01\xfe\xff', b'',
                        'x' * 100000, bytes(range(256)) * 4096]:
            await ws.send(message)
            answer = await asyncio.wait_for(ws.recv(), 30)
            assert answer == message and type(answer) is type(message), \
                (type(message), len(message), type(answer), len(answer))
        await asyncio.wait_for(await ws.ping(b'are you there'), 30)
        await ws.close(1000, 'bye')
    assert ws.close_code == 1000, ws.close_code


failed = 0
for compression in (None, 'deflate'):
    name = 'python websockets echo over HTTP/1.1, %s' % (compression or 'no compression')
    try:
        asyncio.run(asyncio.wait_for(echo(compression), 120))
        print('ok    ' + name)
    except Exception as exc:  # report every case, then fail
        failed += 1
        print('FAIL  %s: %r' % (name, exc))
sys.exit(1 if failed else 0)
