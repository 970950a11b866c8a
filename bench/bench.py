"""Portico against uWSGI and gunicorn: wrk on the same 14-byte WSGI app.

The servers alternate (A B C, A B C, ...) so that drift in this shared VM
hits them alike; each figure is the median of the runs. Every server is
started here on a free loopback port and stopped by its PID.
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


def servers(threads):
    py = '/usr/bin/python3'
    env_portico = dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'bindings', 'python'),
                       PORTICO_LIBRARY=os.path.join(ROOT, 'build', 'libportico.so'))
    return [
        ('portico', lambda p: [py, '-m', 'portico', 'serve', 'wsgi_hello:app',
                               '--bind', '127.0.0.1:%d' % p, '--threads', str(threads)], env_portico),
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
    args = ap.parse_args()
    if args.quick:
        args.runs, args.seconds = 1, 2
    results = {}
    plan = servers(args.threads)
    print('HTTP/1.1 hello (14 B), wrk -t1 -c%d -d%ds, %d run(s) each, servers alternating'
          % (args.conns, args.seconds, args.runs))
    for run in range(args.runs):
        for name, cmd, env in plan:
            port = free_port()
            proc = subprocess.Popen(cmd(port), cwd=BENCH, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                wait_ready(port, proc)
                rps, p50, p99, errs = wrk(port, args.seconds, args.conns)
                rss = rss_kb(proc.pid)
            finally:
                stop(proc)
            results.setdefault(name, []).append((rps, p50, p99, rss))
            print('  run %d %-9s %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  peak RSS %6.1f MB %s'
                  % (run + 1, name, rps, p50 or 0, p99 or 0, rss / 1024.0, errs))
            sys.stdout.flush()
    med = dict((n, statistics.median(r[0] for r in rs)) for n, rs in results.items())
    print('\nmedian req/s: ' + ', '.join('%s %.0f' % (n, med[n]) for n, _, _ in plan))
    for peer in ('uwsgi', 'gunicorn'):
        print('portico / %s = %.2fx' % (peer, med['portico'] / med[peer]))


if __name__ == '__main__':
    main()
