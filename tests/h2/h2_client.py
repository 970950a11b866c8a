"""A small HTTP/2 client over a raw socket with the h2 library (python3-h2),
for what curl, nghttp and httpx cannot do: send request trailers, and turn
server push off. Prints one line per check for run.sh to compare.

    h2_client.py PORT request-trailers   # HEADERS, DATA, trailing HEADERS
    h2_client.py PORT push               # the pushed stream's path and body
    h2_client.py PORT no-push            # SETTINGS_ENABLE_PUSH 0, then /push
"""

import socket
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings

TIMEOUT = 10


def connect(port, enable_push=True):
    sock = socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    if not enable_push:
        conn.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 0})
    sock.sendall(conn.data_to_send())
    return sock, conn


def request_headers(port, method, path):
    return [(':method', method), (':scheme', 'http'),
            (':authority', '127.0.0.1:%d' % port), (':path', path)]


def exchange(sock, conn, stream_id):
    """Run the connection until STREAM_ID ends and every pushed stream has
    ended; returns {stream id: [headers, body, promised path]}."""
    streams = {stream_id: [None, b'', None]}
    open_streams = set([stream_id])
    while open_streams:
        data = sock.recv(65536)
        if not data:
            raise SystemExit('connection closed with streams %s open' % sorted(open_streams))
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.PushedStreamReceived):
                path = dict(event.headers).get(b':path')
                streams[event.pushed_stream_id] = [None, b'', path.decode('latin-1')]
                open_streams.add(event.pushed_stream_id)
            elif isinstance(event, h2.events.ResponseReceived):
                streams[event.stream_id][0] = event.headers
            elif isinstance(event, h2.events.DataReceived):
                streams[event.stream_id][1] += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                open_streams.discard(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                raise SystemExit('stream %d reset: %s' % (event.stream_id, event.error_code))
        sock.sendall(conn.data_to_send())
    return streams


def request_trailers(port):
    sock, conn = connect(port)
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, request_headers(port, 'POST', '/request-trailers'))
    conn.send_data(stream, b'hello trailers')
    conn.send_headers(stream, [('x-checksum', 'abc'), ('x-count', '2')], end_stream=True)
    sock.sendall(conn.data_to_send())
    print(exchange(sock, conn, stream)[stream][1].decode('latin-1').strip())


def push(port, enable_push=True):
    sock, conn = connect(port, enable_push)
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, request_headers(port, 'GET', '/push'), end_stream=True)
    sock.sendall(conn.data_to_send())
    streams = exchange(sock, conn, stream)
    parts = [streams.pop(stream)[1].decode('latin-1').strip()]
    for pushed in sorted(streams):
        headers, body, path = streams[pushed]
        status = dict(headers).get(b':status').decode('latin-1')
        parts.append('%s %s %s' % (path, status, body.decode('latin-1').splitlines()[-1]))
    print(' | '.join(parts))


if __name__ == '__main__':
    port, what = int(sys.argv[1]), sys.argv[2]
    if what == 'request-trailers':
        request_trailers(port)
    elif what == 'push':
        push(port)
    elif what == 'no-push':
        push(port, enable_push=False)
    else:
        raise SystemExit(__doc__)
