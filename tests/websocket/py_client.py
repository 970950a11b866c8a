"""Echo through Portico with the `websockets` library (Debian's
python3-websockets): text, binary (1 MiB too), with and without
permessage-deflate, then a clean close. Usage: py_client.py PORT.
Prints one PASS/FAIL line per case; exits non-zero on any failure."""

import asyncio
import json
import sys
import urllib.request

import websockets

PORT = int(sys.argv[1])
BASE = 'ws://127.0.0.1:%d' % PORT


def last(name):
    url = 'http://127.0.0.1:%d/last?name=%s' % (PORT, name)
    for _ in range(100):
        with urllib.request.urlopen(url, timeout=5) as response:
            value = json.loads(response.read().decode('utf-8'))
        if value is not None:
            return value
    raise AssertionError('the app recorded nothing for %s' % name)


async def echo_case(compression):
    tag = 'py-%s' % (compression or 'plain')
    async with websockets.connect('%s/echo?tag=%s' % (BASE, tag), compression=compression,
                                  max_size=None, open_timeout=10, close_timeout=10) as ws:
        negotiated = ws.response_headers.get('Sec-WebSocket-Extensions')
        if compression == 'deflate':
            assert negotiated and 'permessage-deflate' in negotiated, negotiated
        else:
            assert negotiated is None, negotiated
        for message in ['hello', 'h\u00e9llo \u2603', '', b'\x00\x01\xfe\xff', b'',
                        'x' * 100000, bytes(range(256)) * 4096]:
            await ws.send(message)
            answer = await asyncio.wait_for(ws.recv(), 10)
            assert answer == message and type(answer) is type(message), \
                (type(message), len(message), type(answer), len(answer))
        pong = await ws.ping(b'ping from websockets')
        await asyncio.wait_for(pong, 10)
        await ws.close(1000, 'bye from websockets')
    assert ws.close_code == 1000, ws.close_code
    assert last(tag) == [1000, 'bye from websockets'], last(tag)
    return negotiated


def main():
    print('websockets %s' % websockets.__version__)
    failed = 0
    for compression in (None, 'deflate'):
        name = 'python websockets echo, %s' % ('permessage-deflate' if compression else
                                               'no compression')
        try:
            negotiated = asyncio.run(asyncio.wait_for(echo_case(compression), 60))
            print('PASS: %s (extensions: %s)' % (name, negotiated))
        except Exception as exc:
            failed += 1
            print('FAIL: %s: %r' % (name, exc))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
