"""make soak: SOAK_SECONDS (default 600) of mixed traffic and faults against
`portico serve faultapps:app`, printing the server's RSS, goroutines, live
ids and connections at the start and at the end. Fails if, once idle at the
end, goroutines, ids or connections are above the start, or RSS grew more
than 50% + 32 MiB (heap reuse and allocator caching make it not flat).

Traffic per round: the Go load client (keep-alive requests and WebSocket
echoes), plus faults: apps raising before and after start_response, a
response cut by a client reset, a request body cut mid-way, a WebSocket
peer vanishing."""

import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'python'))

from support import Conversation, request_bytes  # noqa: E402
from test_faults import FaultServer, reset  # noqa: E402
from test_load import load_client, raise_nofile  # noqa: E402
from wsclient import WebSocketClient  # noqa: E402


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])


def idle_stats(server, goroutines=None, wait=10):
    """Stats once only the /stats request is live (and, if given, goroutines
    are down to GOROUTINES: timers such as the 5 s WebSocket close wait end
    some of them late), waiting up to WAIT seconds."""
    deadline = time.time() + wait
    while True:
        stats = server.stats()
        idle = (stats['requests'], stats['connections']) == (1, 1) and \
            (goroutines is None or stats['goroutines'] <= goroutines)
        if idle or time.time() > deadline:
            stats['rss_kib'] = rss_kib(server.process.process.pid)
            return stats
        time.sleep(0.1)


def faults(server):
    server.get('/raise-before')
    server.get('/raise-after')
    c = Conversation(server.port)
    c.send(request_bytes('GET', '/stream?n=400&tag=soak'))
    c.read_head()
    reset(c.sock)
    c = Conversation(server.port)
    c.send(request_bytes('POST', '/read-body', [('Content-Length', '1000000')]) + b'x' * 70000)
    reset(c.sock)
    ws = WebSocketClient.connect(server.port, '/ws-hold?tag=soak')
    reset(ws.conversation.sock)


def main():
    seconds = float(os.environ.get('SOAK_SECONDS', '600'))
    raise_nofile(4000)
    client = load_client()
    server = FaultServer('--threads', '4', '--max-websockets', '300',
                         '--websocket-stack-size', '256')
    try:
        load = [client, '-addr', '127.0.0.1:%d' % server.port, '-conns', '200',
                '-requests', '50', '-ws', '50', '-messages', '20']
        subprocess.check_call(load, stdout=subprocess.DEVNULL)  # warm up
        faults(server)
        start = idle_stats(server)
        print('soak start: %s' % json.dumps(start, sort_keys=True), flush=True)
        began, rounds, requests, sampled = time.time(), 0, 0, time.time()
        while time.time() - began < seconds:
            out = subprocess.run(load, stdout=subprocess.PIPE, check=True).stdout
            requests += json.loads(out.decode().strip().splitlines()[-1])['Requests']
            faults(server)
            rounds += 1
            if time.time() - sampled >= 60:  # busy, not idle: the trend is what counts
                sampled = time.time()
                busy = server.stats()
                print('soak at %3d s: rss %d KiB, goroutines %d, ids %d, connections %d'
                      % (sampled - began, rss_kib(server.process.process.pid),
                         busy['goroutines'], busy['requests'], busy['connections']), flush=True)
        end = idle_stats(server, goroutines=start['goroutines'], wait=30)
        print('soak end after %d s, %d rounds, %d requests: %s'
              % (time.time() - began, rounds, requests, json.dumps(end, sort_keys=True)),
              flush=True)
        problems = []
        for key in ('goroutines', 'requests', 'connections'):
            if end[key] > start[key]:
                problems.append('%s grew from %d to %d' % (key, start[key], end[key]))
        if end['rss_kib'] > start['rss_kib'] * 1.5 + 32 * 1024:
            problems.append('RSS grew from %d to %d KiB' % (start['rss_kib'], end['rss_kib']))
        if problems:
            print('soak FAILED: ' + '; '.join(problems))
            return 1
        print('soak OK')
        return 0
    finally:
        code = server.process.stop()
        if code != 0:
            print('server exit %s:\n%s' % (code, server.process.output()[-3000:]))


if __name__ == '__main__':
    sys.exit(main())
