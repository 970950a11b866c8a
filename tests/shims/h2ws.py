"""A WebSocket-over-HTTP/2 client (RFC 8441) from Debian's python3-h2 and
python3-wsproto, for the shim tests: h2c prior knowledge, extended CONNECT,
then WebSocket frames in DATA frames."""

import socket

import h2.config
import h2.connection
import h2.events
from wsproto.frame_protocol import CloseReason, FrameProtocol, Opcode

IO_TIMEOUT = 10


class H2WebSocket(object):
    def __init__(self, host, port, path, subprotocols=()):
        self.sock = socket.create_connection((host, port), IO_TIMEOUT)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.flush()
        self.frames = FrameProtocol(client=True, extensions=[])
        self.stream = 1
        self.status = None
        self.headers = {}
        self.messages = []   # (opcode, payload) received
        self.closed = None   # (code, reason) once the server's close arrived
        self.ended = False
        while not self.conn.remote_settings.enable_connect_protocol:
            self.pump()
        headers = [(':method', 'CONNECT'), (':protocol', 'websocket'), (':scheme', 'http'),
                   (':path', path), (':authority', '%s:%d' % (host, port)),
                   ('sec-websocket-version', '13')]
        if subprotocols:
            headers.append(('sec-websocket-protocol', ', '.join(subprotocols)))
        self.conn.send_headers(self.stream, headers)
        self.flush()
        while self.status is None:
            self.pump()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self):
        data = self.sock.recv(65536)
        if not data:
            raise IOError('the server closed the connection')
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                self.headers = dict((k.decode() if isinstance(k, bytes) else k,
                                     v.decode() if isinstance(v, bytes) else v)
                                    for k, v in event.headers)
                self.status = int(self.headers[':status'])
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length,
                                                    event.stream_id)
                self.frames.receive_bytes(event.data)
                for frame in self.frames.received_frames():
                    if frame.opcode == Opcode.CLOSE:
                        self.closed = (frame.payload[0], frame.payload[1])
                    elif frame.opcode in (Opcode.TEXT, Opcode.BINARY):
                        self.messages.append(frame.payload)
            elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                self.ended = True
        self.flush()

    def send(self, message):
        self.conn.send_data(self.stream, self.frames.send_data(message, fin=True))
        self.flush()

    def receive(self):
        while not self.messages:
            if self.closed or self.ended:
                raise IOError('closed')
            self.pump()
        return self.messages.pop(0)

    def close(self):
        self.conn.send_data(self.stream, self.frames.close(CloseReason.NORMAL_CLOSURE))
        self.flush()
        while self.closed is None and not self.ended:
            self.pump()
        self.sock.close()
        return self.closed
