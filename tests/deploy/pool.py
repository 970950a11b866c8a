"""Three Portico instances behind a real load balancer on loopback.

    python3 pool.py haproxy   HAProxy: backends over HTTP/1.1 and over h2c
                              (`proto h2`), HTTP health checks, WebSocket
                              through both; wrk (HTTP/1.1) and h2load (h2c)
                              send traffic while the instances are stopped
                              and started again one at a time
    python3 pool.py nginx     nginx: an HTTP/1.1 keep-alive upstream and
                              WebSocket; wrk while the instances restart

Every process runs as the current user with its config in a temporary
directory, on ports picked at run time, and is stopped by its PID. Exits
non-zero unless the rolling restart ends with 0 failed requests (printed).
"""

from __future__ import print_function

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'python'))

from support import httplib, subprocess_env  # noqa: E402
from wsclient import WebSocketClient  # noqa: E402

PYTHON = os.environ.get('PORTICO_TEST_PYTHON') or sys.executable
INSTANCES = 3
LOAD_SECONDS = 14


def free_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def wait_for(predicate, timeout=15.0, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def get(port, path='/pid', timeout=5):
    conn = httplib.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', path)
        response = conn.getresponse()
        return response.status, response.read().decode('ascii', 'replace')
    finally:
        conn.close()


def answers(port, path='/health'):
    try:
        return get(port, path, timeout=1)[0] == 200
    except Exception:
        return False


class Instance(object):
    """One `portico serve` on a fixed port, restartable on the same port."""

    def __init__(self, number, workdir, workers=0):
        self.number = number
        self.workers = workers
        self.port = free_port()
        self.log_path = os.path.join(workdir, 'portico-%d.log' % number)
        self.process = None
        self.pids = []

    def start(self):
        log = open(self.log_path, 'ab')
        self.process = subprocess.Popen(
            [PYTHON, '-m', 'portico', 'serve', 'deployapp:app', '--bind',
             '127.0.0.1:%d' % self.port, '--threads', '8', '--graceful-timeout', '10'] +
            (['--workers', str(self.workers)] if self.workers else []),
            cwd=HERE, env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.pids.append(self.process.pid)
        if not wait_for(lambda: answers(self.port), timeout=20):
            raise AssertionError('instance %d did not start:\n%s' % (self.number, self.output()))

    def stop(self, signum=signal.SIGTERM, timeout=20):
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.kill(self.process.pid, signum)
        deadline = time.time() + timeout
        while self.process.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        code, self.process = self.process.returncode, None
        return code

    def children(self):
        pid = self.process.pid
        with open('/proc/%d/task/%d/children' % (pid, pid)) as listing:
            return set(int(p) for p in listing.read().split())

    def output(self):
        with open(self.log_path, 'rb') as log:
            return log.read().decode('utf-8', 'replace')


class Proxy(object):
    """HAProxy or nginx in the foreground with a private config."""

    def __init__(self, kind, workdir, instances):
        self.kind = kind
        self.workdir = workdir
        self.instances = instances
        self.port = free_port()      # HTTP/1.1 frontend
        self.h2_port = free_port()   # h2c frontend (HAProxy only)
        self.admin = os.path.join(workdir, 'admin.sock')
        self.log_path = os.path.join(workdir, kind + '.log')
        self.process = None

    def haproxy_config(self):
        servers = '\n'.join('    server p%d 127.0.0.1:%d' % (i.number, i.port)
                            for i in self.instances)
        h2_servers = '\n'.join('    server p%d 127.0.0.1:%d proto h2' % (i.number, i.port)
                               for i in self.instances)
        return HAPROXY_CONFIG % {'admin': self.admin, 'port': self.port,
                                 'h2_port': self.h2_port, 'servers': servers,
                                 'h2_servers': h2_servers}

    def nginx_config(self):
        servers = '\n'.join('        server 127.0.0.1:%d max_fails=1 fail_timeout=1s;' % i.port
                            for i in self.instances)
        user = 'user root root;' if os.getuid() == 0 else ''
        return NGINX_CONFIG % {'dir': self.workdir, 'port': self.port, 'servers': servers,
                               'user': user}

    def start(self):
        config = os.path.join(self.workdir, self.kind + '.conf')
        with open(config, 'w') as out:
            out.write(self.haproxy_config() if self.kind == 'haproxy' else self.nginx_config())
        if self.kind == 'haproxy':
            command = ['haproxy', '-db', '-f', config]
        else:
            os.mkdir(os.path.join(self.workdir, 'tmp'))
            command = ['nginx', '-p', self.workdir, '-e', os.path.join(self.workdir, 'error.log'),
                       '-c', config]
        log = open(self.log_path, 'ab')
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if not wait_for(lambda: answers(self.port, '/pid'), timeout=10):
            raise AssertionError('%s did not start:\n%s' % (self.kind, self.output()))

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            for _ in range(100):
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
            else:
                self.process.kill()
                self.process.wait()

    def output(self):
        text = ''
        for path in (self.log_path, os.path.join(self.workdir, 'error.log')):
            if os.path.exists(path):
                with open(path, 'rb') as log:
                    text += log.read().decode('utf-8', 'replace')
        return text

    def haproxy_states(self):
        """{(backend, server): status} from the runtime API's `show stat`."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(2)
        sock.connect(self.admin)
        sock.sendall(b'show stat\n')
        data = b''
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        sock.close()
        states = {}
        lines = data.decode('ascii', 'replace').splitlines()
        header = lines[0].lstrip('# ').split(',')
        status_at = header.index('status')
        for line in lines[1:]:
            fields = line.split(',')
            if len(fields) > status_at and fields[1] not in ('FRONTEND', 'BACKEND'):
                states[(fields[0], fields[1])] = fields[status_at]
        return states

    def all_up(self, server=None):
        if self.kind != 'haproxy':
            return True  # nginx (open source) checks passively: nothing to wait for
        states = self.haproxy_states()
        return all(status == 'UP' for (backend, name), status in states.items()
                   if server is None or name == server)


HAPROXY_CONFIG = """
global
    maxconn 2000
    stats socket %(admin)s mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout tunnel 60s
    timeout http-keep-alive 2s
    # A request that meets a stopping instance (refused, or its idle
    # connection closed under it) goes to another one.
    retries 3
    option redispatch 1
    retry-on all-retryable-errors

frontend fe_h1
    bind 127.0.0.1:%(port)d
    use_backend be_h2 if { url_param(via) -m str h2 }
    default_backend be_h1

frontend fe_h2
    bind 127.0.0.1:%(h2_port)d proto h2
    default_backend be_h2

backend be_h1
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    default-server check inter 200ms fall 1 rise 2
%(servers)s

backend be_h2
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    default-server check inter 200ms fall 1 rise 2
%(h2_servers)s
"""

NGINX_CONFIG = """
%(user)s
daemon off;
master_process on;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(dir)s/tmp/body;
    proxy_temp_path %(dir)s/tmp/proxy;
    fastcgi_temp_path %(dir)s/tmp/fastcgi;
    uwsgi_temp_path %(dir)s/tmp/uwsgi;
    scgi_temp_path %(dir)s/tmp/scgi;

    upstream portico {
%(servers)s
        keepalive 16;
    }
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      '';
    }
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            proxy_pass http://portico;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 3;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
        }
    }
}
"""


def check_websocket(port, path='/ws', protocol='HTTP/1.1'):
    ws = WebSocketClient.connect(port, path)
    try:
        carried = ws.recv_data()
        assert carried == protocol, (path, carried, protocol)
        ws.send(u'hello through the proxy')
        text = ws.recv_data()
        ws.send(b'\x00\x01binary')
        data = ws.recv_data()
    finally:
        ws.close_handshake()
    assert text == u'hello through the proxy', text
    assert data == b'\x00\x01binary', data


def run_wrk(port, seconds, results):
    out = subprocess.check_output(
        ['wrk', '-t1', '-c8', '-d%ds' % seconds, '--timeout', '10s',
         'http://127.0.0.1:%d/pid' % port]).decode()
    total = int(re.search(r'(\d+) requests in', out).group(1))
    non2xx = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    socket_errors = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), '
                              r'timeout (\d+)', out)
    failed = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(n) for n in socket_errors.groups()) if socket_errors else 0)
    results['wrk'] = (total, failed, out)


def run_h2load(port, seconds, results):
    out = subprocess.check_output(
        ['h2load', '-c4', '-m4', '-D', str(seconds), '-T', '10',
         'http://127.0.0.1:%d/pid' % port]).decode()
    match = re.search(r'requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, '
                      r'(\d+) failed, (\d+) errored, (\d+) timeout', out)
    codes = re.search(r'status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx', out)
    # "done" counts every request that ended (failed, errored and timed out
    # ones included); "succeeded" those answered 2xx or 3xx. Requests still
    # in flight when the duration ends are "started" only: not failures.
    done, succeeded = int(match.group(3)), int(match.group(4))
    failed = done - succeeded
    if succeeded != int(codes.group(1)):  # a 3xx is no success here either
        failed += succeeded - int(codes.group(1))
    results['h2load'] = (done, failed, out)


def rolling_restart(proxy, instances):
    """Stop one instance (SIGTERM: it drains), start it again on the same
    port, wait until the balancer sees it up, then the next."""
    time.sleep(1.5)  # the loads are running
    for instance in instances:
        code = instance.stop()
        if code != 0:
            raise AssertionError('instance %d exited with %s' % (instance.number, code))
        time.sleep(0.5)  # traffic runs on the other two meanwhile
        instance.start()
        if not wait_for(lambda: proxy.all_up('p%d' % instance.number), timeout=10):
            raise AssertionError('the balancer does not see instance %d up again: %s'
                                 % (instance.number, proxy.haproxy_states()))
        print('restarted instance %d (pid %d -> %d)'
              % (instance.number, instance.pids[-2], instance.pids[-1]))
        time.sleep(1.0)


def sighup_restart(instances):
    """SIGHUP each --workers instance in turn: its workers are replaced one
    by one on the socket its supervisor keeps open."""
    for instance in instances:
        old = instance.children()
        os.kill(instance.process.pid, signal.SIGHUP)
        if not wait_for(lambda: len(instance.children()) == instance.workers
                        and not instance.children() & old, timeout=20):
            raise AssertionError('instance %d: workers %s not replaced (now %s)'
                                 % (instance.number, sorted(old), sorted(instance.children())))
        print('SIGHUP instance %d: workers %s -> %s'
              % (instance.number, sorted(old), sorted(instance.children())))
        time.sleep(0.5)


def main(kind):
    workdir = tempfile.mkdtemp(prefix='portico-%s.' % kind)
    # HAProxy's instances run a supervisor and 2 workers each (restarted by
    # stop and start, then by SIGHUP); nginx's serve in one process each.
    workers = 2 if kind == 'haproxy' else 0
    instances = [Instance(n, workdir, workers) for n in range(INSTANCES)]
    proxy = Proxy(kind, workdir, instances)
    ok = False
    try:
        for instance in instances:
            instance.start()
        proxy.start()
        if not wait_for(proxy.all_up, timeout=10):
            raise AssertionError('health checks: %s' % proxy.haproxy_states())
        if kind == 'haproxy':
            print('health checks: %s' % sorted(proxy.haproxy_states().items()))

        # Plain requests, spread over the three, over each backend protocol.
        routes = [('/pid', 'HTTP/1.1')]
        if kind == 'haproxy':
            routes.append(('/pid?via=h2', 'HTTP/2.0'))
        for path, protocol in routes:
            seen = set()
            for _ in range(30):
                status, body = get(proxy.port, path)
                assert status == 200, (status, body)
                pid, backend_protocol = body.split()
                assert backend_protocol == protocol, (path, body)
                seen.add(int(pid))
            if workers:
                assert len(seen) >= INSTANCES, (path, seen)
                assert seen <= set().union(*[i.children() for i in instances]), (path, seen)
            else:
                assert seen == set(i.process.pid for i in instances), (path, seen)
            print('%s: %d processes of the %d instances answered over %s'
                  % (path, len(seen), INSTANCES, protocol))
        # WebSocket through the balancer (HAProxy: to an HTTP/1.1 backend and
        # to an h2c one, where it becomes RFC 8441 extended CONNECT).
        ws_paths = [('/ws', 'HTTP/1.1')]
        if kind == 'haproxy':
            ws_paths.append(('/ws?via=h2', 'HTTP/2.0'))
        for path, protocol in ws_paths:
            check_websocket(proxy.port, path, protocol)
            print('WebSocket echo through %s on %s: ok (backend saw %s)' % (kind, path, protocol))

        seconds = LOAD_SECONDS + (8 if workers else 0)
        results = {}
        loads = [threading.Thread(target=run_wrk, args=(proxy.port, seconds, results))]
        if kind == 'haproxy':
            loads.append(threading.Thread(target=run_h2load,
                                          args=(proxy.h2_port, seconds, results)))
        for load in loads:
            load.start()
        rolling_restart(proxy, instances)
        if workers:
            sighup_restart(instances)
        for load in loads:
            load.join(seconds + 30)
        failed_total = 0
        for tool, via in (('wrk', 'HTTP/1.1 -> %s -> HTTP/1.1 backends' % kind),
                          ('h2load', 'h2c -> %s -> h2c backends' % kind)):
            if tool not in results:
                continue
            total, failed, out = results[tool]
            print('rolling restart, %s (%s): %d requests, %d failed'
                  % (tool, via, total, failed))
            if failed or not total:
                print(out)
            failed_total += failed
            if not total:
                failed_total += 1
        check_websocket(proxy.port, '/ws')
        ok = failed_total == 0
        print('%s rolling restart: %d failed requests' % (kind, failed_total))
    finally:
        proxy.stop()
        for instance in instances:
            instance.stop()
        if not ok:
            print('--- %s output\n%s' % (kind, proxy.output()[-4000:]))
            for instance in instances:
                print('--- instance %d\n%s' % (instance.number, instance.output()[-2000:]))
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else 'haproxy'))
