"""The memory cost of idle WebSockets: start `portico serve wsapps:app`, open
N WebSockets to /hold with a raw-socket client (handshake, then silence),
and read the server's VmRSS and thread count from /proc before and after.

    python3 tests/websocket/idle_rss.py [--count 1000] [--stack-kib 256] [--threads 8]

Prints one line per phase and a summary with the RSS per WebSocket. Only
127.0.0.1 is used; every socket is closed and the server stopped at the end.
"""

from __future__ import print_function

import argparse
import base64
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(HERE))
BANNER = re.compile(r'portico: serving \S+ on http://127\.0\.0\.1:(\d+) ')


def proc_status(pid):
    fields = {}
    with open('/proc/%d/status' % pid) as status:
        for line in status:
            name, _, value = line.partition(':')
            fields[name] = value.strip()
    return int(fields['VmRSS'].split()[0]), int(fields['Threads'])


def start_server(args):
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([os.path.join(CHECKOUT, 'bindings', 'python'),
                                         os.path.join(CHECKOUT, 'tests', 'python')])
    env.setdefault('PORTICO_LIBRARY', os.path.join(CHECKOUT, 'build', 'libportico.so'))
    command = [args.python, '-m', 'portico', 'serve', 'wsapps:app', '--bind', '127.0.0.1:0',
               '--threads', str(args.threads), '--max-websockets', str(args.count + 10)]
    if args.stack_kib:
        command += ['--websocket-stack-size', str(args.stack_kib)]
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 20
    while time.time() < deadline:
        log.seek(0)
        match = BANNER.search(log.read().decode('utf-8', 'replace'))
        if match:
            return process, int(match.group(1)), log
        if process.poll() is not None:
            break
        time.sleep(0.05)
    log.seek(0)
    process.kill()
    raise SystemExit('the server did not start:\n' + log.read().decode('utf-8', 'replace'))


def open_websocket(port):
    sock = socket.create_connection(('127.0.0.1', port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode('ascii')
    sock.sendall(('GET /hold HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n'
                  'Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n'
                  'Sec-WebSocket-Version: 13\r\n\r\n' % key).encode('ascii'))
    head = b''
    while b'\r\n\r\n' not in head:
        data = sock.recv(4096)
        if not data:
            raise IOError('closed during the handshake')
        head += data
    if not head.startswith(b'HTTP/1.1 101 '):
        raise IOError('handshake answered %r' % head.split(b'\r\n')[0])
    return sock


def settle(pid, seconds=2.0):
    """RSS and threads once the server has been quiet a moment."""
    time.sleep(seconds)
    return proc_status(pid)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--count', type=int, default=1000)
    parser.add_argument('--threads', type=int, default=8)
    parser.add_argument('--stack-kib', type=int, default=0,
                        help='--websocket-stack-size for the server (0: the default)')
    parser.add_argument('--python', default=sys.executable)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 2 * args.count + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    process, port, log = start_server(args)
    sockets = []
    try:
        # One request first, so that lazily made things (the library's
        # goroutines, the app module's imports) are in the baseline.
        warm = open_websocket(port)
        warm.close()
        rss0, threads0 = settle(process.pid)
        print('before: VmRSS %d KiB, %d threads' % (rss0, threads0))
        started = time.time()
        for _ in range(args.count):
            sockets.append(open_websocket(port))
        took = time.time() - started
        rss1, threads1 = settle(process.pid)
        print('after %d idle WebSockets (opened in %.1fs): VmRSS %d KiB, %d threads'
              % (len(sockets), took, rss1, threads1))
        per = (rss1 - rss0) / float(len(sockets))
        print('summary: python %s, stack %s: +%.1f MiB for %d WebSockets, %.1f KiB each, '
              '+%d threads' % ('.'.join(map(str, sys.version_info[:3]))
                               if args.python == sys.executable else args.python,
                               '%d KiB' % args.stack_kib if args.stack_kib else 'default',
                               (rss1 - rss0) / 1024.0, len(sockets), per,
                               threads1 - threads0))
        for sock in sockets:
            sock.close()
        sockets = []
        deadline = time.time() + 30
        while time.time() < deadline:
            rss2, threads2 = proc_status(process.pid)
            if threads2 <= threads0:
                break
            time.sleep(0.2)
        print('after closing them: VmRSS %d KiB, %d threads' % proc_status(process.pid))
    finally:
        for sock in sockets:
            sock.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            for _ in range(200):
                if process.poll() is not None:
                    break
                time.sleep(0.05)
            if process.poll() is None:
                process.kill()
        log.close()


if __name__ == '__main__':
    main()
