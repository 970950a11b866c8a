"""Portico against its peers, side by side, in one run on one machine.

Scenarios (each server runs the same app logic in its own interface:
bench/wsgi_hello.py, bench/asgi_hello.py, bench/ws_echo.py, bench/go/*):

  h1_hello   HTTP/1.1 GET / (14 bytes), wrk -t1 -c50
  h1_10k     HTTP/1.1 GET /10k (10,240 bytes), wrk -t1 -c50
  h1_post    HTTP/1.1 POST /echo of 100 KB, echoed back, wrk -t1 -c50 -s post100k.lua
  h2c        HTTP/2 cleartext (prior knowledge) GET /, h2load -c10 -m10
  h2tls      HTTP/2 over TLS (ALPN h2) GET /, h2load -c10 -m10
  ws         WebSocket echo round trips, 32-byte text, 10 connections (bench/go/wsload)
  idle_h1    RSS added by 1000 idle keep-alive connections (bench/go/idleconns)
  idle_ws    RSS added by 1000 idle WebSockets

For the load scenarios all servers of a scenario are started (each on a free
loopback port), checked to answer correctly, warmed up, and then measured in
turns, A B C A B C ..., so that drift on a shared machine hits them alike;
each figure is the median of --runs runs. The idle scenarios start a fresh
server for every run (again in turns), since memory a server kept from the
previous run would hide what the next one adds. Every server is stopped by its
PID (and any process it left, by PID too).

Results go to build/bench/results.json; then bench/report.py rewrites the
generated part of docs/benchmarks.md and draws docs/benchmarks.png.

--ab BASE_TREE (make bench-ab BASE=<rev>) runs only Portico, another build of
it (BASE_TREE's binding and library) against this checkout's, each case's two
servers in turns, and writes build/bench/ab.json instead.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import resource
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loadgen  # noqa: E402
import report  # noqa: E402
from loadgen import RunError  # noqa: E402

ROOT = loadgen.ROOT
BENCH = os.path.join(ROOT, 'bench')
BUILD = os.path.join(ROOT, 'build')
TOOLS = loadgen.TOOLS
OUT = os.path.join(BUILD, 'bench')
CERT = os.path.join(OUT, 'cert.pem')
KEY = os.path.join(OUT, 'key.pem')
PY = '/usr/bin/python3'  # Debian's: the one the peers are installed for
IDLE_N = 1000
POST_SIZE = 102400


# --- servers -----------------------------------------------------------------

def portico_env(tree=ROOT):
    """Portico from the checkout TREE: its binding and its build/libportico.so
    (the two go together)."""
    return dict(os.environ, PYTHONPATH=os.path.join(tree, 'bindings', 'python'),
                PORTICO_LIBRARY=os.path.join(tree, 'build', 'libportico.so'))


class Server(object):
    """How to start one server: NAME (short key), LABEL (for tables), KIND
    ('portico', 'peer' or 'ceiling'), ARGV(port) -> argv, and whether it may be
    absent from this checkout (OPTIONAL: a failed start is a skip, not an error)."""

    def __init__(self, name, label, kind, argv, env=None, optional=False, scheme='http'):
        self.name, self.label, self.kind, self.argv = name, label, kind, argv
        self.env = env if env is not None else dict(os.environ)
        self.optional, self.scheme = optional, scheme


def portico(app, *extra, **kw):
    scheme = kw.pop('scheme', 'http')

    def argv(port):
        bind = '%s://127.0.0.1:%d' % (scheme, port)
        return [PY, '-m', 'portico', 'serve', app, '--bind', bind, '--threads', str(ARGS.threads)] + list(extra)
    return argv


def uvicorn(ws, *extra):
    return lambda port: [PY, '-m', 'uvicorn', 'asgi_hello:app', '--host', '127.0.0.1', '--port', str(port),
                         '--http', 'httptools', '--loop', 'uvloop', '--ws', ws,
                         '--no-access-log', '--log-level', 'warning'] + list(extra)


def hypercorn(*extra):
    return lambda port: [PY, '-m', 'hypercorn', '-b', '127.0.0.1:%d' % port, '-w', '1', '-k', 'uvloop',
                         '--log-level', 'warning'] + list(extra) + ['asgi_hello:app']


def gohttp(*extra):
    return lambda port: [os.path.join(TOOLS, 'h2hello'), '-addr', '127.0.0.1:%d' % port] + list(extra)


def server_sets():
    tls = ('--certfile', CERT, '--keyfile', KEY)
    p_wsgi = Server('portico', 'Portico (WSGI)', 'portico', portico('wsgi_hello:app'), portico_env())
    p_asgi = Server('portico-asgi', 'Portico (ASGI, uvloop)', 'portico',
                    portico('asgi_hello:app', '--interface', 'asgi', '--loop', 'uvloop'), portico_env(), optional=True)
    uwsgi = Server('uwsgi', 'uWSGI --http-socket, 1 process', 'peer',
                   lambda port: ['uwsgi', '--plugin', 'python3', '--http-socket', '127.0.0.1:%d' % port,
                                 '--wsgi-file', 'wsgi_hello.py', '--processes', '1', '--master',
                                 '--disable-logging'])
    gunicorn = Server('gunicorn', 'gunicorn sync, 1 worker', 'peer',
                      lambda port: [PY, '-m', 'gunicorn', '-b', '127.0.0.1:%d' % port, '-w', '1', '-k', 'sync',
                                    'wsgi_hello:app'])
    uvi = Server('uvicorn', 'uvicorn httptools+uvloop (ASGI)', 'peer', uvicorn('none'))
    daphne = Server('daphne', 'daphne (ASGI)', 'peer',
                    lambda port: [PY, '-m', 'daphne', '-b', '127.0.0.1', '-p', str(port), 'asgi_hello:app'])
    go_h1 = Server('go', 'Go net/http', 'ceiling', gohttp('-mode', 'h1'))
    h1 = [p_wsgi, p_asgi, uwsgi, gunicorn, uvi, go_h1]
    ws_p = Server('portico', 'Portico (WSGI, gateway WebSocket)', 'portico', portico('ws_echo:app'), portico_env())
    ws_pa = Server('portico-asgi', 'Portico (ASGI, uvloop)', 'portico',
                   portico('asgi_hello:app', '--interface', 'asgi', '--loop', 'uvloop'), portico_env(), optional=True)
    ws_uvi = Server('uvicorn', 'uvicorn + websockets (uvloop)', 'peer',
                    uvicorn('websockets', '--ws-per-message-deflate', 'false'))
    gobwas = Server('go-gobwas', 'Go gobwas/ws echo', 'ceiling',
                    lambda port: [os.path.join(TOOLS, 'wsecho'), '-addr', '127.0.0.1:%d' % port])
    keep = ('--keepalive-timeout', '120')
    return {
        'h1_hello': h1 + [daphne],
        'h1_10k': h1,
        'h1_post': h1,
        'h2c': [p_wsgi,
                Server('hypercorn', 'hypercorn (uvloop)', 'peer', hypercorn()),
                Server('go-h2c', 'Go net/http + x/net h2c', 'ceiling', gohttp('-mode', 'h2c'))],
        'h2tls': [Server('portico', 'Portico (WSGI)', 'portico', portico('wsgi_hello:app', *tls, scheme='https'),
                         portico_env(), scheme='https'),
                  Server('hypercorn', 'hypercorn (uvloop)', 'peer', hypercorn('--certfile', CERT, '--keyfile', KEY),
                         scheme='https'),
                  Server('go-h2', 'Go net/http (TLS, h2)', 'ceiling', gohttp('-cert', CERT, '-key', KEY),
                         scheme='https')],
        'ws': [ws_p, ws_pa, ws_uvi, gobwas],
        'idle_h1': [Server('portico', 'Portico (WSGI)', 'portico', portico('wsgi_hello:app', *keep), portico_env()),
                    Server('portico-asgi', 'Portico (ASGI, uvloop)', 'portico',
                           portico('asgi_hello:app', '--interface', 'asgi', '--loop', 'uvloop', *keep), portico_env(), optional=True),
                    Server('uvicorn', 'uvicorn httptools+uvloop (ASGI)', 'peer',
                           uvicorn('none', '--timeout-keep-alive', '120')),
                    go_h1],
        'idle_ws': [Server('portico', 'Portico (WSGI, gateway WebSocket)', 'portico',
                           portico('ws_echo:app', '--max-websockets', str(IDLE_N + 100)), portico_env()),
                    ws_pa, ws_uvi, gobwas],
    }


# --- scenarios -----------------------------------------------------------------

SCENARIOS = [
    # id, title, metric, what is measured
    ('h1_hello', 'HTTP/1.1 hello (14 B)', 'req/s', 'wrk -t1 -c50 --latency http://HOST/'),
    ('h1_10k', 'HTTP/1.1 10 KB response', 'req/s', 'wrk -t1 -c50 --latency http://HOST/10k'),
    ('h1_post', 'HTTP/1.1 POST 100 KB echo', 'req/s', 'wrk -t1 -c50 --latency -s bench/post100k.lua http://HOST/echo'),
    ('h2c', 'HTTP/2 h2c hello', 'req/s', 'h2load -c10 -m10 -t1 http://HOST/'),
    ('h2tls', 'HTTP/2 TLS hello', 'req/s', 'h2load -c10 -m10 -t1 https://HOST/'),
    ('ws', 'WebSocket echo', 'msg/s', 'bench/go/wsload -c 10 -size 32 -url ws://HOST/'),
    ('idle_h1', '1000 idle keep-alive', 'MB', 'bench/go/idleconns -n 1000 -mode h1 -url http://HOST/'),
    ('idle_ws', '1000 idle WebSockets', 'MB', 'bench/go/idleconns -n 1000 -mode ws -url ws://HOST/'),
]
IDLE = ('idle_h1', 'idle_ws')


def measure(scenario, server, port, seconds, prefix):
    host = '127.0.0.1:%d' % port
    if scenario in ('h1_hello', 'h1_10k', 'h1_post'):
        path = {'h1_hello': '/', 'h1_10k': '/10k', 'h1_post': '/echo'}[scenario]
        script = loadgen.WRK_POST_LUA if scenario == 'h1_post' else None
        return loadgen.wrk('http://%s%s' % (host, path), seconds, script=script, prefix=prefix)
    if scenario == 'h2c':
        return loadgen.h2load('http://%s/' % host, seconds, prefix=prefix, expect_protocol='h2c')
    if scenario == 'h2tls':
        return loadgen.h2load('https://%s/' % host, seconds, prefix=prefix, expect_protocol='h2')
    if scenario == 'ws':
        return loadgen.wsload('ws://%s/' % host, seconds, prefix=prefix)
    raise ValueError(scenario)


def check_app(scenario, server, port):
    """One request of the scenario's kind over HTTP/1.1: the right answer?"""
    if scenario in ('ws', 'idle_ws'):
        out = subprocess.run([os.path.join(TOOLS, 'idleconns'), '-mode', 'ws', '-n', '1', '-hold', '0s',
                              '-url', 'ws://127.0.0.1:%d/' % port], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True, timeout=20)
        if out.returncode != 0:
            raise RunError('WebSocket handshake failed: %s' % out.stderr.strip()[-200:])
        return
    if server.scheme == 'https':
        conn = http.client.HTTPSConnection('127.0.0.1', port, timeout=10,
                                           context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    try:
        if scenario == 'h1_post':
            sent = os.urandom(POST_SIZE)
            conn.request('POST', '/echo', body=sent, headers={'Content-Type': 'application/octet-stream'})
            want = sent
        else:
            path = '/10k' if scenario == 'h1_10k' else '/'
            conn.request('GET', path)
            want = b'x' * 10240 if path == '/10k' else b'Hello, world!\n'
        resp = conn.getresponse()
        got = resp.read()
    finally:
        conn.close()
    if resp.status != 200 or got != want:
        raise RunError('wrong answer: %d, %d bytes (want 200, %d bytes)' % (resp.status, len(got), len(want)))


# --- processes, memory, CPU ---------------------------------------------------

_HANDED_OUT = set()


def free_port():
    """A port free right now, and not handed to another server of this run.
    (Another process may still take it before the server binds it: see
    Running.wait_ready, which checks who listens.)"""
    while True:
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
        s.close()
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def listening_inodes(port):
    """The socket inodes listening on PORT (IPv4 or IPv6)."""
    inodes = set()
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == '0A' and int(fields[1].rsplit(':', 1)[1], 16) == port:
                        inodes.add(fields[9])
        except (IOError, OSError):
            pass
    return inodes


def owns_listener(pids, port):
    """Whether one of PIDS holds the socket listening on PORT."""
    wanted = set('socket:[%s]' % i for i in listening_inodes(port))
    for pid in pids:
        try:
            fds = os.listdir('/proc/%d/fd' % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink('/proc/%d/fd/%s' % (pid, fd)) in wanted:
                    return True
            except OSError:
                pass
    return False


def children_map():
    kids = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry) as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            except (IOError, OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree(pid):
    """PID and all its descendants."""
    kids, out, todo = children_map(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, ()))
    return out


def status_kb(pids, field):
    total = 0
    for pid in pids:
        try:
            with open('/proc/%d/status' % pid) as f:
                for line in f:
                    if line.startswith(field + ':'):
                        total += int(line.split()[1])
        except (IOError, OSError):
            pass
    return total


TICK = os.sysconf('SC_CLK_TCK')


def proc_cpu(pids):
    total = 0
    for pid in pids:
        try:
            with open('/proc/%d/stat' % pid) as f:
                fields = f.read().rsplit(')', 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (IOError, OSError, IndexError, ValueError):
            pass
    return total / float(TICK)


def machine_busy():
    with open('/proc/stat') as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / float(TICK)


class Running(object):
    def __init__(self, server, scenario, prefix):
        self.server, self.prefix = server, prefix
        os.makedirs(os.path.join(OUT, 'logs'), exist_ok=True)
        self.log_path = os.path.join(OUT, 'logs', '%s-%s.log' % (scenario, server.name))
        self.launch()

    def launch(self):
        self.port = free_port()
        self.log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(list(self.prefix) + self.server.argv(self.port), cwd=BENCH,
                                     env=self.server.env, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.pids = [self.proc.pid]

    def wait_ready(self, timeout=20, tries=3):
        """Wait until this server (not another process that took its port)
        listens; if the port was taken before it could bind, start it again
        on another one."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                with open(self.log_path) as f:
                    lines = [l.strip() for l in f if l.strip()]
                last = lines[-1] if lines else ''
                if tries > 1 and 'in use' in ' '.join(lines).lower():
                    print('  %s: port %d was taken, starting it again on another' % (self.server.name, self.port))
                    self.launch()
                    return self.wait_ready(timeout, tries - 1)
                raise RunError('exited with %s: %s' % (self.proc.returncode, last))
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=0.5).close()
                self.pids = tree(self.proc.pid)
                if owns_listener(self.pids, self.port):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RunError('not listening on %d after %ds' % (self.port, timeout))

    def refresh(self):
        self.pids = tree(self.proc.pid)
        return self.pids

    def stop(self):
        self.signal()
        self.reap()

    def signal(self):
        """Ask the server to stop (its own way), noting the processes it has."""
        self.stopping = tree(self.proc.pid) if self.proc.poll() is None else []
        if self.proc.poll() is None:
            # uWSGI takes SIGTERM as "reload"; SIGQUIT stops it. SIGINT stops the others.
            self.proc.send_signal(signal.SIGQUIT if self.server.name == 'uwsgi' else signal.SIGINT)

    def reap(self):
        """Wait for the stop (3 s at most: a benchmark needs no graceful
        shutdown); then kill it, and any process it left, by PID."""
        try:
            self.proc.wait(3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for pid in getattr(self, 'stopping', [])[1:]:  # a worker its master left behind
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if not self.log.closed:
            self.log.close()


# --- the run ---------------------------------------------------------------------

def wait_quiet(pct, limit):
    """Wait until the machine's busy share over 0.5 s is below PCT% of one
    core, for LIMIT seconds at most; return the time waited."""
    if not pct:
        return 0.0
    start = time.time()
    while time.time() - start < limit:
        b0, t0 = machine_busy(), time.time()
        time.sleep(0.5)
        if 100.0 * (machine_busy() - b0) / (time.time() - t0) < pct:
            break
    return round(time.time() - start, 1)


def cpu_probe():
    """Milliseconds a fixed piece of work takes on each CPU, best of 3. On a
    virtual machine whose host lends our vCPUs to other guests, this is how
    the slowdown shows: /proc/stat has no steal time here."""
    cpus = sorted(os.sched_getaffinity(0))
    times = []
    try:
        for cpu in cpus:
            os.sched_setaffinity(0, {cpu})
            best = None
            for _ in range(3):
                t = time.perf_counter()
                x = 0
                for i in range(200000):
                    x += i
                d = time.perf_counter() - t
                best = d if best is None else min(best, d)
            times.append(best * 1000)
    finally:
        os.sched_setaffinity(0, set(cpus))
    return times


class Steady(object):
    """Waits before a load run until every CPU runs the probe within PCT% of
    the fastest time seen in this bench (the host is not slowing us), each
    wait at most WAIT seconds and all of them at most BUDGET seconds, so the
    whole run stays bounded on a host that is never quiet."""

    def __init__(self, pct, wait, budget):
        self.pct, self.wait, self.budget = pct, wait, budget
        self.best = None
        self.spent = 0.0

    def __call__(self):
        if not self.pct:
            return 0.0
        start = time.time()
        while True:
            times = cpu_probe()
            self.best = times if self.best is None else [min(a, b) for a, b in zip(self.best, times)]
            slow = any(t > b * (1 + self.pct / 100.0) for t, b in zip(times, self.best))
            waited = time.time() - start
            if not slow or waited >= self.wait or self.spent + waited >= self.budget:
                break
            time.sleep(0.5)
        self.spent += waited
        return round(waited, 1)


class Progress(object):
    def __init__(self, total):
        self.total, self.done, self.start = total, 0, time.time()

    def line(self, text):
        self.done += 1
        el = int(time.time() - self.start)
        print('[%2d/%d %d:%02d] %s' % (self.done, self.total, el // 60, el % 60, text))
        sys.stdout.flush()


def fmt_run(metric, r):
    if metric == 'MB':
        return '%7.1f MB added for %d (%.1f KB each), RSS %.1f -> %.1f MB, opened in %.2f s' % (
            r['added_kb'] / 1024.0, r['connections'], r['added_kb'] / r['connections'],
            r['rss_before_kb'] / 1024.0, r['rss_after_kb'] / 1024.0, r['open_s'] or 0)
    p50 = '%.2f' % r['p50_ms'] if r.get('p50_ms') is not None else '?'
    p99 = '%.2f' % r['p99_ms'] if r.get('p99_ms') is not None else '?'
    errs = ' errors %s' % r['errors'] if r.get('errors') else ''
    if r.get('waited_s'):
        errs += ' (waited %.1f s for a quiet, steady machine)' % r['waited_s']
    return '%9.0f %s  p50 %6s ms  p99 %6s ms  peak RSS %5.1f MB  cpu srv %3.0f%% load %3.0f%% other %3.0f%%%s' % (
        r['rate'], metric, p50, p99, r['peak_rss_kb'] / 1024.0, r['cpu_server'], r['cpu_load'], r['cpu_other'], errs)


def timed(running, fn):
    """Run FN() and add the CPU split of that time to its result: the server's
    tree, the load generator (our waited-for children) and everything else, in
    % of one core."""
    pids = running.refresh()
    t0, b0, s0, c0 = time.time(), machine_busy(), proc_cpu(pids), os.times()
    result = fn()
    t1, b1, s1, c1 = time.time(), machine_busy(), proc_cpu(pids), os.times()
    wall = max(t1 - t0, 1e-6)
    server = s1 - s0
    load = (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
    result['cpu_server'] = 100.0 * server / wall
    result['cpu_load'] = 100.0 * load / wall
    result['cpu_other'] = 100.0 * (b1 - b0 - server - load) / wall
    return result


def run_load(scenarios, sets, args, progress, prefix_srv, prefix_load):
    """The load SCENARIOS of one group (they share their servers: each is
    started once, all at once). Per scenario: check each server's answer,
    warm it up, then measure the servers in turns. Returns {scenario: result}."""
    servers = []
    for sid in scenarios:
        servers += [srv for srv in sets[sid] if srv not in servers]
    t0 = time.time()
    running = [Running(srv, scenarios[0], prefix_srv) for srv in servers]
    up, out = [], {}
    try:
        failed = {}
        for r in running:
            try:
                r.wait_ready()
                up.append(r)
            except RunError as exc:
                failed[r.server.name] = '%s: %s' % ('not supported by this checkout' if r.server.optional
                                                    else 'failed to start', exc)
                r.stop()
        print('  %d server(s) up in %.1f s' % (len(up), time.time() - t0))
        for sid in scenarios:
            print('== %s: %s, %s' % (sid, TITLE[sid], LOAD[sid]))
            out[sid] = measure_scenario(sid, [r for r in up if r.server in sets[sid]], failed,
                                        [srv for srv in sets[sid]], args, progress, prefix_load)
            print_summary(out[sid], METRIC[sid])
    finally:
        t0 = time.time()
        for r in running:  # all at once: some take a second to stop
            r.signal()
        for r in running:
            r.reap()
        print('  stopped in %.1f s' % (time.time() - t0))
    return out


def measure_scenario(scenario, candidates, failed, servers, args, progress, prefix_load):
    sc = {'servers': [], 'skipped': []}

    def skip(srv, why):
        print('  skip %s: %s' % (srv.name, why))
        sc['skipped'].append({'name': srv.name, 'label': srv.label, 'why': str(why)})

    for srv in servers:
        if srv.name in failed:
            skip(srv, failed[srv.name])
            progress.total -= args.runs
    live = []
    for r in candidates:
        try:
            check_app(scenario, r.server, r.port)
            if r.proc.poll() is not None:  # then the answer came from someone else's server on that port
                raise RunError('exited with %s' % r.proc.returncode)
            live.append(r)
        except RunError as exc:
            skip(r.server, 'wrong answer: %s' % exc)
            progress.total -= args.runs
    if not args.quick:
        for r in live:
            try:
                measure(scenario, r.server, r.port, 1, prefix_load)
            except RunError as exc:
                print('  warm-up of %s: %s' % (r.server.name, exc))
    runs = {}
    for i in range(args.runs):
        for r in live:
            if r.server.name in runs and runs[r.server.name] is None:
                continue  # failed before: leave it out
            try:
                waited = wait_quiet(args.quiet, args.quiet_wait) + args.steady_gate()
                res = timed(r, lambda: measure(scenario, r.server, r.port, args.seconds, prefix_load))
                res['waited_s'] = waited
                res['peak_rss_kb'] = status_kb(r.refresh(), 'VmHWM')
                runs.setdefault(r.server.name, []).append(res)
                text = fmt_run(METRIC[scenario], res)
            except RunError as exc:
                runs[r.server.name] = None
                progress.total -= args.runs - i - 1
                sc['skipped'].append({'name': r.server.name, 'label': r.server.label,
                                      'why': 'run failed: %s' % exc})
                text = 'FAILED: %s' % exc
            progress.line('%-8s run %d/%d %-13s %s' % (scenario, i + 1, args.runs, r.server.name, text))
    for r in live:
        if runs.get(r.server.name):
            sc['servers'].append(summary(r.server, runs[r.server.name], METRIC[scenario]))
    return sc


def idle_once(scenario, srv, prefix_srv, prefix_load):
    r = Running(srv, scenario, prefix_srv)
    try:
        r.wait_ready()
        check_app(scenario, srv, r.port)
        if r.proc.poll() is not None:
            raise RunError('exited with %s' % r.proc.returncode)
        mode = 'ws' if scenario == 'idle_ws' else 'h1'
        url = '%s://127.0.0.1:%d/' % ('ws' if mode == 'ws' else 'http', r.port)
        tool = list(prefix_load) + [os.path.join(TOOLS, 'idleconns'), '-mode', mode, '-url', url]
        # A few connections first, so that what a server sets up once (thread
        # pools, buffers, caches) is in the baseline, not counted per connection.
        subprocess.run(tool + ['-n', '20', '-hold', '0s'], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
        time.sleep(0.5)
        before = status_kb(r.refresh(), 'VmRSS')
        holder = subprocess.Popen(tool + ['-n', str(IDLE_N), '-hold', '120s'], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        try:
            line = holder.stdout.readline()
            if not line:
                raise RunError('idleconns: %s' % holder.stderr.read().strip()[-300:])
            held, open_s = loadgen.parse_ready(line)
            time.sleep(1.0)  # let the server finish setting up the last ones
            pids = r.refresh()
            after = status_kb(pids, 'VmRSS')
            peak = status_kb(pids, 'VmHWM')
            if r.proc.poll() is not None:
                raise RunError('server exited while holding the connections')
        finally:
            if holder.poll() is None:
                holder.stdin.close()
                try:
                    holder.wait(20)
                except subprocess.TimeoutExpired:
                    holder.kill()
                    holder.wait()
        return {'added_kb': after - before, 'rss_before_kb': before, 'rss_after_kb': after,
                'peak_rss_kb': peak, 'connections': held, 'open_s': open_s, 'rate': (after - before) / 1024.0,
                'errors': {}}
    finally:
        r.stop()


def run_idle(scenario, servers, args, progress, prefix_srv, prefix_load):
    sc = {'servers': [], 'skipped': []}
    runs, dropped = {}, set()
    for i in range(args.runs):
        for srv in servers:
            if srv.name in dropped:
                continue
            try:
                res = idle_once(scenario, srv, prefix_srv, prefix_load)
                runs.setdefault(srv.name, []).append(res)
                text = fmt_run('MB', res)
            except RunError as exc:
                dropped.add(srv.name)
                progress.total -= args.runs - i - 1
                why = '%s: %s' % ('not supported by this checkout' if srv.optional and i == 0 and srv.name not in runs
                                  else 'failed', exc)
                sc['skipped'].append({'name': srv.name, 'label': srv.label, 'why': why})
                text = 'skipped: %s' % why
            progress.line('%-8s run %d/%d %-13s %s' % (scenario, i + 1, args.runs, srv.name, text))
    for srv in servers:
        if runs.get(srv.name) and srv.name not in dropped:
            sc['servers'].append(summary(srv, runs[srv.name], 'MB'))
    return sc


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summary(srv, runs, metric):
    out = {'name': srv.name, 'label': srv.label, 'kind': srv.kind, 'runs': runs,
           'median': med(r['rate'] for r in runs), 'min': min(r['rate'] for r in runs),
           'max': max(r['rate'] for r in runs),
           'peak_rss_kb': max(r['peak_rss_kb'] for r in runs)}
    for key in ('p50_ms', 'p99_ms', 'cpu_server', 'cpu_load', 'cpu_other', 'rss_before_kb', 'open_s'):
        out[key] = med(r.get(key) for r in runs)
    if metric == 'MB':
        out['per_conn_kb'] = med(r['added_kb'] / float(r['connections']) for r in runs)
    errors = {}
    for r in runs:
        for k, v in (r.get('errors') or {}).items():
            errors[k] = errors.get(k, 0) + v
    out['errors'] = errors
    return out


METRIC = dict((s[0], s[2]) for s in SCENARIOS)
TITLE = dict((s[0], s[1]) for s in SCENARIOS)
LOAD = dict((s[0], s[3]) for s in SCENARIOS)
# Load scenarios that share one start of their servers (the same apps serve
# all their paths): saves a stop and start of seven servers, twice.
GROUPS = {'h1_hello': 'h1', 'h1_10k': 'h1', 'h1_post': 'h1'}


def ratios(sc, metric):
    """Portico (each variant) / each other server, on the scenario's median."""
    out = {}
    for p in sc['servers']:
        if p['kind'] != 'portico' or not p['median']:
            continue
        for s in sc['servers']:
            if s['kind'] != 'portico' and s['median']:
                out.setdefault(p['name'], {})[s['name']] = p['median'] / s['median']
    return out


# --- A/B: two builds of Portico, side by side --------------------------------------

# What `--ab` runs unless --only says otherwise: the figures a change on the hot
# path must keep (WSGI hello, ASGI hello, h2c hello, ASGI WebSocket echo).
AB_DEFAULT = 'h1_hello:portico,h1_hello:portico-asgi,h2c:portico,ws:portico-asgi'


def quartiles(values):
    """(Q1, median, Q3) of VALUES by linear interpolation between the sorted
    values (statistics.quantiles' 'inclusive' method, which also takes one or
    two values); None for no values."""
    xs = sorted(values)
    if not xs:
        return None

    def at(p):
        pos = p * (len(xs) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
    return at(0.25), at(0.5), at(0.75)


def ab_compare(base_rates, new_rates):
    """The new build against the base: the ratio of their medians, and the
    quartiles of the per-round ratios (round i of new over round i of base).
    The two runs of a round are seconds apart, so drift of a shared machine
    between rounds cancels within each pair; the spread of the paired ratios
    is the noise a verdict has to beat."""
    paired = [n / b for b, n in zip(base_rates, new_rates) if b]
    base_med, new_med = med(base_rates), med(new_rates)
    q = quartiles(paired)
    return {'base_median': base_med, 'new_median': new_med,
            'ratio': new_med / base_med if base_med and new_med is not None else None,
            'paired': paired, 'paired_q1': q and q[0], 'paired_median': q and q[1], 'paired_q3': q and q[2]}


def ab_cases(only, sets):
    """[(scenario, Portico server)] for ONLY's comma-separated items: SCENARIO
    (each Portico variant of it) or SCENARIO:SERVER. Raises ValueError."""
    cases = []
    for item in only.split(','):
        sid, _, name = item.partition(':')
        if sid not in sets:
            raise ValueError('unknown scenario %r' % sid)
        variants = [s for s in sets[sid] if s.kind == 'portico' and (not name or s.name == name)]
        if not variants:
            raise ValueError('%s has no Portico server %r (it has: %s)' % (
                sid, name, ', '.join(s.name for s in sets[sid] if s.kind == 'portico')))
        cases += [(sid, s) for s in variants if (sid, s) not in cases]
    return cases


def describe(tree):
    """What build TREE holds: the COMMIT file `make bench-ab` writes into an
    exported revision, or the git commit of a checkout."""
    path = os.path.join(tree, 'COMMIT')
    if os.path.exists(path):
        with open(path) as f:
            return f.read().strip()
    if os.path.exists(os.path.join(tree, '.git')):
        return commit(tree)
    return '(unknown revision)'


def ab_pair(srv, base_tree):
    """SRV twice, the same command: the base build's binding and library, then this checkout's."""
    return [Server(srv.name + '@' + side, '%s, %s build' % (srv.label, side), 'portico', srv.argv,
                   portico_env(tree), optional=srv.optional, scheme=srv.scheme)
            for side, tree in (('base', base_tree), ('new', ROOT))]


def ab_line(cmp, metric):
    """One case's verdict: medians, new/base, and the paired ratios' quartiles."""
    if cmp['ratio'] is None:
        return 'no result'
    return ('base %s, new %s%s: new/base %.3f (%+.1f%%); per-round new/base q1 %.3f, median %.3f, q3 %.3f (%d rounds)'
            % (report.num(cmp['base_median'], metric), report.num(cmp['new_median'], metric),
               '' if metric == 'MB' else ' ' + metric,  # num() gives MB its unit
               cmp['ratio'], 100.0 * (cmp['ratio'] - 1), cmp['paired_q1'], cmp['paired_median'],
               cmp['paired_q3'], len(cmp['paired'])))


def run_ab(cases, args, progress, prefix_srv, prefix_load):
    """Each case (scenario, Portico server) with the base build and the new one,
    both up at once and measured in turns, base new base new ... (a fresh
    server per run for the idle scenarios), through the bench's own runners."""
    out = []
    for sid, srv in cases:
        pair = ab_pair(srv, args.ab)
        if sid in IDLE:
            print('== %s: %s, %s' % (sid, TITLE[sid], LOAD[sid]))
            sc = run_idle(sid, pair, args, progress, prefix_srv, prefix_load)
            print_summary(sc, METRIC[sid])
        else:
            sc = run_load([sid], {sid: pair}, args, progress, prefix_srv, prefix_load)[sid]
        got = dict((s['name'].rsplit('@', 1)[1], s) for s in sc['servers'])
        case = {'id': '%s:%s' % (sid, srv.name), 'scenario': sid, 'server': srv.name,
                'title': '%s, %s' % (TITLE[sid], srv.label), 'metric': METRIC[sid], 'load': LOAD[sid],
                'base': got.get('base'), 'new': got.get('new'), 'skipped': sc['skipped'], 'compare': None}
        if case['base'] and case['new']:
            case['compare'] = ab_compare([r['rate'] for r in case['base']['runs']],
                                         [r['rate'] for r in case['new']['runs']])
            print('  A/B %s' % ab_line(case['compare'], METRIC[sid]))
        else:
            print('  A/B: no comparison (%s)' % '; '.join('%s %s' % (s['name'], s['why']) for s in sc['skipped']))
        sys.stdout.flush()
        out.append(case)
    return out


def main_ab(args, cases, info, prefix_srv, prefix_load, pin_note, nofile):
    started = time.time()
    base, new = describe(args.ab), commit()
    print('portico bench --ab: %d case(s), %d round(s) of %ds, base then new in each%s; %s; RLIMIT_NOFILE %d'
          % (len(cases), args.runs, args.seconds, ' (QUICK: no warm-up)' if args.quick else '', pin_note, nofile))
    print('base: %s (%s)' % (base, os.path.relpath(args.ab, ROOT)))
    print('new:  %s (this checkout)' % new)
    print('machine: load average %s' % info['loadavg_at_start'])
    progress = Progress(2 * args.runs * len(cases))
    got = run_ab(cases, args, progress, prefix_srv, prefix_load)
    with open('/proc/loadavg') as f:
        info['loadavg_at_end'] = ' '.join(f.read().split()[:3])
    results = {'date': datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC'), 'quick': args.quick,
               'rounds': args.runs, 'seconds': args.seconds, 'warmup': not args.quick,
               'portico_threads': args.threads, 'pinning': pin_note, 'machine': info,
               'base': {'tree': os.path.abspath(args.ab), 'commit': base},
               'new': {'tree': ROOT, 'commit': new}, 'cases': got,
               'elapsed_s': round(time.time() - started, 1),
               'steady': {'pct': args.steady, 'wait_s': args.steady_wait, 'budget_s': args.steady_budget,
                          'waited_s': round(args.steady_gate.spent, 1)}}
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, 'w') as f:
        json.dump(results, f, indent=1, sort_keys=True)
    print('\nA/B, new/base (above 1: the new build is faster; for MB, it adds more):')
    width = max(len(c['id']) for c in got)
    for c in got:
        print('  %-*s  %s' % (width, c['id'], ab_line(c['compare'], c['metric']) if c['compare'] else
                              'not compared: ' + '; '.join('%s %s' % (s['name'], s['why']) for s in c['skipped'])))
    print('bench --ab: %d runs in %d:%02d, %.0f s waited for a steady machine; results in %s' % (
        progress.done, results['elapsed_s'] // 60, results['elapsed_s'] % 60, args.steady_gate.spent,
        os.path.relpath(args.json)))
    return 0 if all(c['compare'] for c in got) else 1


# --- setup -----------------------------------------------------------------------

def make_cert():
    """A fresh self-signed P-256 certificate for 127.0.0.1 for every run."""
    os.makedirs(OUT, exist_ok=True)
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                    '-nodes', '-days', '30', '-keyout', KEY, '-out', CERT, '-subj', '/CN=127.0.0.1',
                    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def raise_nofile(want=4 * IDLE_N + 1024):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        target = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pinning():
    """(server prefix, load prefix, note). With 4 CPUs or more the server gets
    the first half of the CPUs and the load generator the other half."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 4:
        half = len(cpus) // 2
        srv, load = cpus[:half], cpus[half:]
        fmt = lambda cs: ','.join(str(c) for c in cs)  # noqa: E731
        return (['taskset', '-c', fmt(srv)], ['taskset', '-c', fmt(load)],
                'pinned: servers on CPUs %s, load generators on CPUs %s (taskset)' % (fmt(srv), fmt(load)))
    return ([], [], 'not pinned: only %d CPU(s), so the load generator shares them with the server '
            '(pinning would give a one-process server one core and leave multi-threaded ones '
            'and the kernel\'s loopback work starved)' % len(cpus))


def first_line(cmd):
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                             timeout=10).stdout
        return out.strip().splitlines()[0] if out.strip() else ''
    except (OSError, subprocess.SubprocessError):
        return ''


def machine():
    model = ''
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    mem = ''
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemTotal:'):
                mem = '%.1f GiB' % (int(line.split()[1]) / 1048576.0)
    os_name = ''
    if os.path.exists('/etc/os-release'):
        with open('/etc/os-release') as f:
            for line in f:
                if line.startswith('PRETTY_NAME='):
                    os_name = line.split('=', 1)[1].strip().strip('"')
    pkgs = {}
    for p in ('gunicorn', 'uwsgi', 'python3-uvicorn', 'python3-httptools', 'python3-uvloop', 'python3-hypercorn',
              'python3-daphne', 'python3-websockets', 'wrk', 'nghttp2-client'):
        pkgs[p] = first_line(['dpkg-query', '-W', '-f=${Version}', p])
    with open('/proc/loadavg') as f:
        loadavg = ' '.join(f.read().split()[:3])
    return {'cpu_model': model, 'nproc': os.cpu_count(), 'cpus_allowed': len(os.sched_getaffinity(0)),
            'memory': mem, 'os': os_name, 'kernel': platform.release(),
            'python': first_line([PY, '-c', 'import sys; print(sys.version.split()[0])']),
            'go': first_line(['go', 'version']).replace('go version ', ''), 'packages': pkgs,
            'loadavg_at_start': loadavg, 'portico_commit': commit()}


def commit(tree=ROOT):
    head = first_line(['git', '-C', tree, 'log', '-1', '--format=%h %<(50,trunc)%s']).rstrip()
    # Changes to the docs (this run rewrites them) do not count.
    dirty = first_line(['git', '-C', tree, 'status', '--porcelain', '--untracked-files=no', '--', '.',
                        ':(exclude)docs', ':(exclude)README.md'])
    return head + (' (with uncommitted changes)' if dirty else '')


def deps():
    subprocess.run([os.path.join(ROOT, 'scripts', 'deps.sh'), 'bench'], check=True)
    for tool in ('h2hello', 'wsecho', 'wsload', 'idleconns'):
        subprocess.run(['go', 'build', '-o', os.path.join(TOOLS, tool), './bench/go/' + tool], cwd=ROOT,
                       check=True)


ARGS = None


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--quick', action='store_true', help='1 run of 1 s per server, no warm-up '
                    '(with --ab: rounds of 1 s, as many as --runs)')
    ap.add_argument('--runs', type=int, default=3, help='runs per server (the median is reported)')
    ap.add_argument('--seconds', type=int, default=3, help='length of each measured run')
    ap.add_argument('--threads', type=int, default=1, help='Portico worker threads')
    ap.add_argument('--only', help='comma-separated scenarios: ' + ','.join(s[0] for s in SCENARIOS))
    ap.add_argument('--deps', action='store_true', help='install the peers and build the Go tools first')
    ap.add_argument('--no-docs', action='store_true', help='leave docs/benchmarks.md and the chart alone')
    ap.add_argument('--quiet', type=float, metavar='PCT',
                    help='before each load run, wait until the machine is busy below PCT%% of one core '
                         '(over 0.5 s), at most --quiet-wait seconds (default: do not wait)')
    ap.add_argument('--quiet-wait', type=float, default=30, metavar='S')
    ap.add_argument('--steady', type=float, default=10, metavar='PCT',
                    help='before each load run, wait until a fixed CPU probe runs within PCT%% of the fastest '
                         'time seen on every CPU (a host that slows this VM shows only so); 0: do not wait')
    ap.add_argument('--steady-wait', type=float, default=15, metavar='S', help='longest wait for one run')
    ap.add_argument('--steady-budget', type=float, default=90, metavar='S',
                    help='longest wait for steadiness over the whole bench')
    ap.add_argument('--json', help='where the results go (default build/bench/results.json; '
                    'with --ab, build/bench/ab.json)')
    ap.add_argument('--ab', metavar='BASE_TREE',
                    help='A/B: only Portico, the build in BASE_TREE (its bindings/python and '
                         'build/libportico.so) against this checkout\'s, in turns for --runs rounds; '
                         '--only takes SCENARIO or SCENARIO:SERVER (default %s); the docs are left alone'
                         % AB_DEFAULT)
    args = ARGS = ap.parse_args()
    args.steady_gate = Steady(args.steady, args.steady_wait, args.steady_budget)
    if args.quick:
        args.seconds = 1
        if not args.ab:  # an A/B run needs its rounds to pair
            args.runs = 1
    if args.json is None:
        args.json = os.path.join(OUT, 'ab.json' if args.ab else 'results.json')
    if args.ab:
        args.ab = os.path.abspath(args.ab)  # the servers run in bench/
        for need in (os.path.join('build', 'libportico.so'), os.path.join('bindings', 'python', 'portico')):
            if not os.path.exists(os.path.join(args.ab, need)):
                ap.error('--ab %s: no %s there' % (args.ab, need))
        try:
            cases = ab_cases(args.only or AB_DEFAULT, server_sets())
        except ValueError as exc:
            ap.error('--only: %s' % exc)
    chosen = [s for s in SCENARIOS if not args.only or s[0] in args.only.split(',')]
    if args.only and not args.ab:
        unknown = set(args.only.split(',')) - set(s[0] for s in SCENARIOS)
        if unknown:
            ap.error('unknown scenario(s): %s' % ', '.join(sorted(unknown)))
    if args.deps:
        deps()
    make_cert()
    nofile = raise_nofile()
    prefix_srv, prefix_load, pin_note = pinning()
    sets = server_sets()
    started = time.time()
    info = machine()
    if args.ab:
        return main_ab(args, cases, info, prefix_srv, prefix_load, pin_note, nofile)
    total = sum(len(sets[s[0]]) * args.runs for s in chosen)
    print('portico bench: %d scenario(s), %d run(s) each of %ds%s; %s; RLIMIT_NOFILE %d'
          % (len(chosen), args.runs, args.seconds, ' (QUICK: no warm-up)' if args.quick else '',
             pin_note, nofile))
    print('machine: %s x%d, %s, kernel %s, Python %s, Go %s; load average %s' % (
        info['cpu_model'], info['nproc'], info['memory'], info['kernel'], info['python'], info['go'],
        info['loadavg_at_start']))
    progress = Progress(total)
    results = {'date': datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC'), 'quick': args.quick,
               'runs': args.runs, 'seconds': args.seconds, 'warmup': not args.quick,
               'portico_threads': args.threads, 'pinning': pin_note, 'quiet': args.quiet, 'quiet_wait': args.quiet_wait, 'machine': info, 'scenarios': []}
    done = set()
    for sid, title, metric, how in chosen:
        if sid in done:
            continue
        if sid in IDLE:
            print('== %s: %s, %s' % (sid, title, how))
            sys.stdout.flush()
            got = {sid: run_idle(sid, sets[sid], args, progress, prefix_srv, prefix_load)}
            print_summary(got[sid], metric)
        else:
            group = [c[0] for c in chosen if c[0] not in IDLE and
                     (c[0] == sid or (GROUPS.get(sid) and GROUPS.get(c[0]) == GROUPS.get(sid)))]
            got = run_load(group, sets, args, progress, prefix_srv, prefix_load)
        for gid, sc in got.items():
            sc.update({'id': gid, 'title': TITLE[gid], 'metric': METRIC[gid], 'load': LOAD[gid]})
            sc['ratios'] = ratios(sc, METRIC[gid])
            results['scenarios'].append(sc)
            done.add(gid)
    results['elapsed_s'] = round(time.time() - started, 1)
    results['steady'] = {'pct': args.steady, 'wait_s': args.steady_wait, 'budget_s': args.steady_budget,
                         'waited_s': round(args.steady_gate.spent, 1),
                         'probe_best_ms': [round(t, 2) for t in args.steady_gate.best or []]}
    with open('/proc/loadavg') as f:
        info['loadavg_at_end'] = ' '.join(f.read().split()[:3])
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, 'w') as f:
        json.dump(results, f, indent=1, sort_keys=True)
    print('bench: %d runs in %d:%02d; results in %s' % (progress.done, results['elapsed_s'] // 60,
                                                       results['elapsed_s'] % 60, os.path.relpath(args.json)))
    if not args.no_docs and not args.only:
        report.write_docs(results)
    elif not args.no_docs:
        print('bench: --only given, so docs/benchmarks.md is left alone (bench/report.py %s rewrites it)'
              % os.path.relpath(args.json))
    return 0


def print_summary(sc, unit):
    if not sc['servers']:
        print('  (no results)')
        return
    print('  median %s: %s' % (unit, ', '.join('%s %s' % (s['name'], report.num(s['median'], unit))
                                             for s in sc['servers'])))
    for p, peers in sorted(ratios(sc, unit).items()):
        print('  %s / ' % p + ', '.join('%s %.2fx' % (n, v) for n, v in peers.items()))
    sys.stdout.flush()


if __name__ == '__main__':
    sys.exit(main())
