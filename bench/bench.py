"""Portico against its peers, side by side, on the same 14-byte answer.

Scenarios: HTTP/1.1 with wrk (Portico, uWSGI, gunicorn), HTTP/2 h2c with
h2load -c10 -m10 (Portico, hypercorn with uvloop, Go net/http + x/net h2c),
and WebSocket echo round trips, 32 bytes on 10 connections (Portico,
uvicorn with websockets, a gobwas/ws echo server).
The servers of a scenario alternate (A B C, A B C, ...) so that drift in
this shared VM hits them alike; each figure is the median of the runs.
Every server is started here on a free loopback port and stopped by its PID.
"""
from __future__ import print_function

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, 'bench')


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


PY = '/usr/bin/python3'


def portico_env():
    return dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'bindings', 'python'),
                PORTICO_LIBRARY=os.path.join(ROOT, 'build', 'libportico.so'))


def h2_servers(threads):
    return [
        ('portico', lambda p: [PY, '-m', 'portico', 'serve', 'wsgi_hello:app',
                               '--bind', '127.0.0.1:%d' % p, '--threads', str(threads)], portico_env()),
        ('hypercorn', lambda p: [PY, '-m', 'hypercorn', '-b', '127.0.0.1:%d' % p, '-w', '1', '-k', 'uvloop',
                                 '--log-level', 'warning', 'asgi_hello:app'], dict(os.environ)),
        ('go-h2c', lambda p: [os.path.join(ROOT, 'build', 'tools', 'h2hello'), '-addr', '127.0.0.1:%d' % p],
         dict(os.environ)),
    ]


def ws_servers(threads):
    return [
        ('portico', lambda p: [PY, '-m', 'portico', 'serve', 'ws_echo:app',
                               '--bind', '127.0.0.1:%d' % p, '--threads', str(threads)], portico_env()),
        ('uvicorn', lambda p: [PY, '-m', 'uvicorn', 'asgi_hello:app', '--host', '127.0.0.1', '--port', str(p),
                               '--ws', 'websockets', '--ws-per-message-deflate', 'false',
                               '--no-access-log', '--log-level', 'warning'], dict(os.environ)),
        ('go-gobwas', lambda p: [os.path.join(ROOT, 'build', 'tools', 'wsecho'), '-addr', '127.0.0.1:%d' % p],
         dict(os.environ)),
    ]


WS_RESULT = re.compile(r'([\d.]+) msg/s p50 ([\d.]+) ms p99 ([\d.]+) ms')


def wsload(port, seconds):
    tool = os.path.join(ROOT, 'build', 'tools', 'wsload')
    url = 'ws://127.0.0.1:%d/' % port
    subprocess.run([tool, '-url', url, '-d', '1s'], stdout=subprocess.DEVNULL, check=True)
    out = subprocess.run([tool, '-url', url, '-c', '10', '-size', '32', '-d', '%ds' % seconds],
                         stdout=subprocess.PIPE, check=True, universal_newlines=True).stdout
    rate, p50, p99 = WS_RESULT.search(out).groups()
    return float(rate), float(p50), float(p99)


def servers(threads):
    py = PY
    return [
        ('portico', lambda p: [py, '-m', 'portico', 'serve', 'wsgi_hello:app',
                               '--bind', '127.0.0.1:%d' % p, '--threads', str(threads)], portico_env()),
        ('uwsgi', lambda p: ['uwsgi', '--plugin', 'python3', '--http-socket', '127.0.0.1:%d' % p,
                             '--wsgi-file', 'wsgi_hello.py', '--processes', '1', '--master',
                             '--disable-logging'], dict(os.environ)),
        ('gunicorn', lambda p: [py, '-m', 'gunicorn', '-b', '127.0.0.1:%d' % p, '-w', '1', '-k', 'sync',
                                'wsgi_hello:app'], dict(os.environ)),
    ]


def wait_ready(port, proc, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('server exited with %s' % proc.returncode)
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError('server not ready on port %d after %ds' % (port, timeout))


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT if proc.args[0] != 'uwsgi' else signal.SIGQUIT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


WRK_RPS = re.compile(r'Requests/sec:\s+([\d.]+)')
WRK_LAT = re.compile(r'^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$', re.M)
UNITS = {'us': 0.001, 'ms': 1.0, 's': 1000.0}


def wrk(port, seconds, conns):
    url = 'http://127.0.0.1:%d/' % port
    subprocess.run(['wrk', '-t1', '-c%d' % conns, '-d1s', url], stdout=subprocess.DEVNULL, check=True)
    out = subprocess.run(['wrk', '-t1', '-c%d' % conns, '-d%ds' % seconds, '--latency', url],
                         stdout=subprocess.PIPE, check=True, universal_newlines=True).stdout
    errors = re.search(r'Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)', out)
    lat = dict((p, float(v) * UNITS[u]) for p, v, u in WRK_LAT.findall(out))
    return float(WRK_RPS.search(out).group(1)), lat.get('50'), lat.get('99'), errors.group(0) if errors else ''


H2_RPS = re.compile(r'finished in [\d.]+m?s, ([\d.]+) req/s')
H2_REQS = re.compile(r'requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored')
H2_MEAN = re.compile(r'time for request:\s+\S+\s+\S+\s+(\S+)')


def h2load(port, seconds, conns=10, streams=10):
    url = 'http://127.0.0.1:%d/' % port
    base = ['h2load', '-c', str(conns), '-m', str(streams), '-t', '1']
    subprocess.run(base + ['-D', '1', url], stdout=subprocess.DEVNULL, check=True)
    out = subprocess.run(base + ['-D', str(seconds), url], stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout
    total, ok, failed, errored = H2_REQS.search(out).groups()
    mean = H2_MEAN.search(out)
    errs = '' if failed == errored == '0' else 'failed %s errored %s' % (failed, errored)
    return float(H2_RPS.search(out).group(1)), mean.group(1) if mean else '?', errs


def rss_kb(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except IOError:
        pass
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--quick', action='store_true', help='1 run of 2 s per server')
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--seconds', type=int, default=5)
    ap.add_argument('--conns', type=int, default=50)
    ap.add_argument('--threads', type=int, default=1, help='Portico worker threads')
    ap.add_argument('--only', help='comma-separated scenarios: h1,h2,ws')
    args = ap.parse_args()
    if args.quick:
        args.runs, args.seconds = 1, 2
    only = set(args.only.split(',')) if args.only else None
    if not only or 'h1' in only:
        run_h1(args)
    if not only or 'h2' in only:
        run_h2(args)
    if not only or 'ws' in only:
        run_ws(args)


def alternate(plan, runs, measure, show):
    """Run each server of PLAN RUNS times, alternating; {name: [result]}."""
    results = {}
    for run in range(runs):
        for name, cmd, env in plan:
            port = free_port()
            proc = subprocess.Popen(cmd(port), cwd=BENCH, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                wait_ready(port, proc)
                result = measure(port) + (rss_kb(proc.pid),)
            finally:
                stop(proc)
            results.setdefault(name, []).append(result)
            print('  run %d %-10s %s' % (run + 1, name, show(result)))
            sys.stdout.flush()
    return results


def report(plan, results, peers):
    med = dict((n, statistics.median(r[0] for r in rs)) for n, rs in results.items())
    print('median req/s: ' + ', '.join('%s %.0f' % (n, med[n]) for n, _, _ in plan))
    for peer in peers:
        print('portico / %s = %.2fx' % (peer, med['portico'] / med[peer]))
    print('')


def run_h1(args):
    plan = servers(args.threads)
    print('HTTP/1.1 hello (14 B), wrk -t1 -c%d -d%ds, %d run(s) each, servers alternating'
          % (args.conns, args.seconds, args.runs))
    results = alternate(plan, args.runs, lambda port: wrk(port, args.seconds, args.conns),
                        lambda r: '%9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  peak RSS %6.1f MB %s'
                        % (r[0], r[1] or 0, r[2] or 0, r[4] / 1024.0, r[3]))
    report(plan, results, ('uwsgi', 'gunicorn'))


def run_h2(args):
    plan = h2_servers(max(args.threads, 1))
    print('HTTP/2 h2c hello, h2load -c10 -m10 -t1 -D%d, %d run(s) each, servers alternating'
          % (args.seconds, args.runs))
    results = alternate(plan, args.runs, lambda port: h2load(port, args.seconds),
                        lambda r: '%9.0f req/s  mean %8s  peak RSS %6.1f MB %s'
                        % (r[0], r[1], r[3] / 1024.0, r[2]))
    report(plan, results, ('hypercorn', 'go-h2c'))


def run_ws(args):
    plan = ws_servers(max(args.threads, 1))
    print('WebSocket echo, 32-byte text, 10 connections, strict round trips, %ds, %d run(s) each'
          % (args.seconds, args.runs))
    results = alternate(plan, args.runs, lambda port: wsload(port, args.seconds),
                        lambda r: '%9.0f msg/s  p50 %6.2f ms  p99 %6.2f ms  peak RSS %6.1f MB'
                        % (r[0], r[1], r[2], r[3] / 1024.0))
    report(plan, results, ('uvicorn', 'go-gobwas'))


if __name__ == '__main__':
    main()
