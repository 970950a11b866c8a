"""The Autobahn|Testsuite cases where good messages come before a bad frame
(3.2-3.4 reserved bits, 4.1.3-4.2.5 reserved opcodes, 5.15 fragmentation),
sent in one write as Autobahn sends them, against an echo app
(orderapp.py) over HTTP/1.1 and over HTTP/2 (RFC 8441, h2c). Strict order:
the echo of every good message, then the 1002 close, then the end.

    order_client.py PORT RUNS [h1|h2]...

Prints a PASS or FAIL line per case and transport ("order wrong in K of
RUNS") and exits non-zero if any run was out of order. Debian's python3
(python3-h2 for HTTP/2)."""
import base64
import os
import socket
import struct
import sys

TIMEOUT = 20


def frame(fin, rsv, op, payload):
    """A masked client frame (payloads under 126 bytes)."""
    mask = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | rsv | op, 0x80 | len(payload)])
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


HELLO = b'Hello, world!'
TEXT = frame(True, 0, 1, HELLO)
PING = frame(True, 0, 9, b'x')


def cases():
    out = [('3.2', TEXT + frame(True, 0x20, 1, HELLO) + PING, [HELLO]),
           ('3.3', TEXT + frame(True, 0x30, 1, HELLO) + PING, [HELLO]),
           ('3.4', TEXT + frame(True, 0x40, 1, HELLO) + PING, [HELLO])]
    for i, op in enumerate((5, 6, 7)):
        out.append(('4.1.%d' % (i + 3), TEXT + frame(True, 0, op, b'reserved') + PING, [HELLO]))
    for i, op in enumerate((0xd, 0xe, 0xf)):
        out.append(('4.2.%d' % (i + 3), TEXT + frame(True, 0, op, b'reserved') + PING, [HELLO]))
    out.append(('5.15', frame(False, 0, 1, b'fragment1') + frame(True, 0, 0, b'fragment2') +
                frame(False, 0, 0, b'fragment3') + frame(True, 0, 0, b'fragment4'), [b'fragment1fragment2']))
    return out


def parse(buf):
    """Server frames (unmasked) in buf: a list of (opcode, payload), and the rest."""
    frames = []
    while len(buf) >= 2:
        op, n, i = buf[0] & 0x0f, buf[1] & 0x7f, 2
        if n == 126:
            if len(buf) < 4:
                break
            n, i = struct.unpack('!H', buf[2:4])[0], 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, i = struct.unpack('!Q', buf[2:10])[0], 10
        if len(buf) < i + n:
            break
        frames.append((op, buf[i:i + n]))
        buf = buf[i + n:]
    return frames, buf


def verdict(frames, echoes):
    """None if frames are the echoes then close 1002, else what went wrong."""
    want = [(1, e) for e in echoes]
    got = [(op, p) for op, p in frames if op != 8]
    closes = [p for op, p in frames if op == 8]
    if not closes:
        return 'no close (got %r)' % (frames,)
    if frames[-1][0] != 8 or got != want:
        return 'got %r, want the echoes %r then close' % (frames, echoes)
    code = struct.unpack('!H', closes[0][:2])[0] if len(closes[0]) >= 2 else None
    if code != 1002:
        return 'close %r, want 1002' % (code,)
    return None


def run_h1(port, data, echoes):
    s = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
                   'Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n' % key).encode())
        buf = b''
        while b'\r\n\r\n' not in buf:
            d = s.recv(65536)
            if not d:
                return 'no handshake answer'
            buf += d
        head, buf = buf.split(b'\r\n\r\n', 1)
        if not head.startswith(b'HTTP/1.1 101'):
            return 'handshake: %r' % head.split(b'\r\n')[0]
        s.sendall(data)
        while True:
            frames, _ = parse(buf)
            if frames and frames[-1][0] == 8:
                return verdict(frames, echoes)
            d = s.recv(65536)
            if not d:
                return verdict(frames, echoes)
            buf += d
    except socket.timeout:
        return 'timeout'
    finally:
        s.close()


def run_h2(port, data, echoes):
    import h2.config
    import h2.connection
    import h2.events
    s = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
    try:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding='utf-8'))
        conn.initiate_connection()
        s.sendall(conn.data_to_send())
        sid, buf, frames, sent = None, b'', [], False
        while True:
            d = s.recv(65536)
            if not d:
                return verdict(frames, echoes) if sent else 'connection closed'
            for ev in conn.receive_data(d):
                if isinstance(ev, h2.events.RemoteSettingsChanged) and sid is None:
                    sid = conn.get_next_available_stream_id()
                    conn.send_headers(sid, [(':method', 'CONNECT'), (':protocol', 'websocket'),
                                            (':scheme', 'http'), (':path', '/ws'),
                                            (':authority', '127.0.0.1'), ('sec-websocket-version', '13')])
                elif isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    status = dict(ev.headers).get(':status')
                    if status != '200':
                        return 'status %r' % status
                    conn.send_data(sid, data)
                    sent = True
                elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                    buf += ev.data
                    frames, _ = parse(buf)
                    if frames and frames[-1][0] == 8:
                        return verdict(frames, echoes)
                elif isinstance(ev, (h2.events.StreamReset, h2.events.StreamEnded)) and ev.stream_id == sid:
                    return verdict(frames, echoes)
            s.sendall(conn.data_to_send())
    except socket.timeout:
        return 'timeout'
    finally:
        s.close()


def main():
    port, runs = int(sys.argv[1]), int(sys.argv[2])
    transports = sys.argv[3:] or ['h1', 'h2']
    bad_total = 0
    for t in transports:
        run = run_h1 if t == 'h1' else run_h2
        for name, data, echoes in cases():
            wrong = []
            for _ in range(runs):
                why = run(port, data, echoes)
                if why:
                    wrong.append(why)
            bad_total += len(wrong)
            line = '%s %s: order wrong in %d of %d' % (t, name, len(wrong), runs)
            print(('FAIL: %s (first: %s)' % (line, wrong[0])) if wrong else 'PASS: ' + line)
            sys.stdout.flush()
    sys.exit(1 if bad_total else 0)


if __name__ == '__main__':
    main()
