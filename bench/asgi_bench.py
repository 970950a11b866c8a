"""ASGI on Portico against uvicorn, same app (bench/asgi_hello.py), same loop:
HTTP/1.1 hello with wrk -t1 -c50, and WebSocket echo with bench/go/wsload
(10 connections, 32-byte messages). Servers alternate run by run; the best
run of each is reported with the ratio. Numbers on a shared 2-core machine
are noisy: compare within one run of this script only.

    python3 bench/asgi_bench.py [--seconds 5] [--runs 3] [--loop asyncio|uvloop]

Needs `make` and build/tools/wsload (make bench builds it), wrk, uvicorn.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (helpers only: Server, Running, portico_env)
import loadgen  # noqa: E402

PY = '/usr/bin/python3'


def commands(loop):
    return [
        ('portico-asgi', lambda p: [PY, '-m', 'portico', 'serve', 'asgi_hello:app', '--interface', 'asgi',
                                    '--loop', loop, '--bind', '127.0.0.1:%d' % p], bench.portico_env()),
        ('uvicorn', lambda p: [PY, '-m', 'uvicorn', 'asgi_hello:app', '--host', '127.0.0.1', '--port', str(p),
                               '--loop', loop, '--http', 'httptools', '--ws', 'websockets',
                               '--ws-per-message-deflate', 'false', '--no-access-log',
                               '--log-level', 'warning'], dict(os.environ)),
    ]


def measure(plan, runs, fn):
    best = {}
    for _ in range(runs):
        for name, command, env in plan:
            server = bench.Running(bench.Server(name, name, 'peer', command, env), 'asgi_bench', [])
            try:
                server.wait_ready()
                result = fn(server.port)
            finally:
                server.stop()
            print('  %-13s %s' % (name, result), flush=True)
            if name not in best or result[0] > best[name][0]:
                best[name] = result
    return best


def row(result):
    return result['rate'], result['p50_ms'], result['p99_ms']


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--seconds', type=int, default=5)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--loop', choices=('asyncio', 'uvloop'), default='asyncio')
    parser.add_argument('--only', choices=('h1', 'ws'))
    args = parser.parse_args()
    plan = commands(args.loop)
    if args.only != 'ws':
        print('ASGI hello, HTTP/1.1, wrk -t1 -c50 -d%ds, loop %s (req/s, p50 ms, p99 ms)' % (args.seconds, args.loop))
        best = measure(plan, args.runs, lambda port: row(loadgen.wrk('http://127.0.0.1:%d/' % port, args.seconds, 50)))
        print('  best: portico-asgi %.0f, uvicorn %.0f req/s: %.2fx' % (
            best['portico-asgi'][0], best['uvicorn'][0], best['portico-asgi'][0] / best['uvicorn'][0]))
    if args.only != 'h1':
        print('ASGI WebSocket echo, wsload -c10 -size 32 -d%ds, loop %s (msg/s, p50 ms, p99 ms)' % (args.seconds, args.loop))
        best = measure(plan, args.runs, lambda port: row(loadgen.wsload('ws://127.0.0.1:%d/' % port, args.seconds)))
        print('  best: portico-asgi %.0f, uvicorn %.0f msg/s: %.2fx' % (
            best['portico-asgi'][0], best['uvicorn'][0], best['portico-asgi'][0] / best['uvicorn'][0]))


if __name__ == '__main__':
    main()
