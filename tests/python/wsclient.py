"""A minimal WebSocket client over a raw socket, for the tests (RFC 6455,
no extensions): the opening handshake with a Sec-WebSocket-Key, masked
frames out, unmasked frames in. Standard library only; 2.7 and 3.x.
"""

import base64
import hashlib
import os
import socket
import struct

from support import IO_TIMEOUT, Conversation

GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode('ascii') + GUID).digest()).decode('ascii')


def handshake_bytes(path='/', protocols=(), extensions=(), version='13', key=None,
                    host='test.example', extra=()):
    key = key or base64.b64encode(os.urandom(16)).decode('ascii')
    lines = ['GET %s HTTP/1.1' % path, 'Host: %s' % host, 'Upgrade: websocket',
             'Connection: Upgrade', 'Sec-WebSocket-Key: %s' % key,
             'Sec-WebSocket-Version: %s' % version]
    if protocols:
        lines.append('Sec-WebSocket-Protocol: %s' % ', '.join(protocols))
    if extensions:
        lines.append('Sec-WebSocket-Extensions: %s' % ', '.join(extensions))
    for name, value in extra:
        lines.append('%s: %s' % (name, value))
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1'), key


class HandshakeFailed(Exception):
    def __init__(self, response):
        Exception.__init__(self, 'handshake answered %d' % response.status)
        self.response = response


def encode_frame(opcode, payload, fin=True, mask=True, rsv=0):
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    length = len(payload)
    if length < 126:
        head = struct.pack('!BB', first, (0x80 if mask else 0) | length)
    elif length < 65536:
        head = struct.pack('!BBH', first, (0x80 if mask else 0) | 126, length)
    else:
        head = struct.pack('!BBQ', first, (0x80 if mask else 0) | 127, length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + apply_mask(key, payload)


def apply_mask(key, data):
    if not data:
        return b''
    # XOR through big integers: fast enough for megabytes on every interpreter.
    repeated = (key * (len(data) // 4 + 1))[:len(data)]
    a = int(base64.b16encode(data), 16)
    b = int(base64.b16encode(repeated), 16)
    text = '%0*x' % (len(data) * 2, a ^ b)
    return base64.b16decode(text.upper())


class WebSocketClient(object):
    """One client WebSocket. connect() returns it after a 101; a refusal
    raises HandshakeFailed with the HTTP response."""

    def __init__(self, conversation, response):
        self.conversation = conversation
        self.response = response
        self.sock = conversation.sock

    @classmethod
    def connect(cls, port, path='/', protocols=(), extensions=(), version='13',
                host='127.0.0.1', extra=()):
        conversation = Conversation(port, host)
        raw, key = handshake_bytes(path, protocols, extensions, version, extra=extra)
        conversation.send(raw)
        try:
            response = conversation.read_head()
        except Exception:
            conversation.close()
            raise
        version_, status, reason, headers = response
        if status != 101:
            from support import Response
            full = Response(version_, status, reason, headers, b'')
            length = full.header('content-length')
            if length is not None:
                full.body = conversation._exactly(int(length))
            conversation.close()
            raise HandshakeFailed(full)
        client = cls(conversation, response)
        client.headers = dict(headers)
        assert client.headers.get('sec-websocket-accept') == accept_key(key), headers
        return client

    @property
    def subprotocol(self):
        return self.headers.get('sec-websocket-protocol')

    # -- frames ------------------------------------------------------------

    def send_frame(self, opcode, payload, fin=True):
        self.conversation.send(encode_frame(opcode, payload, fin))

    def recv_frame(self, timeout=IO_TIMEOUT):
        """(fin, opcode, payload) of the next frame from the server."""
        self.sock.settimeout(timeout)
        try:
            first, second = struct.unpack('!BB', self.conversation._exactly(2))
            assert not second & 0x80, 'the server masked a frame'
            length = second & 0x7f
            if length == 126:
                length = struct.unpack('!H', self.conversation._exactly(2))[0]
            elif length == 127:
                length = struct.unpack('!Q', self.conversation._exactly(8))[0]
            payload = self.conversation._exactly(length)
        finally:
            self.sock.settimeout(IO_TIMEOUT)
        return bool(first & 0x80), first & 0x0f, payload

    # -- messages ----------------------------------------------------------

    def send(self, data):
        if isinstance(data, bytes):
            self.send_frame(OP_BINARY, data)
        else:
            self.send_frame(OP_TEXT, data.encode('utf-8'))

    def ping(self, data=b''):
        self.send_frame(OP_PING, data)

    def recv(self, timeout=IO_TIMEOUT, pongs=None):
        """The next message: ('text', unicode), ('binary', bytes),
        ('close', (code, reason)) or ('ping', payload). Pongs are appended to
        PONGS (a list) if given, else skipped."""
        parts = []
        opcode = None
        while True:
            fin, op, payload = self.recv_frame(timeout)
            if op == OP_PONG:
                if pongs is not None:
                    pongs.append(payload)
                continue
            if op == OP_PING:
                return 'ping', payload
            if op == OP_CLOSE:
                if len(payload) >= 2:
                    code = struct.unpack('!H', payload[:2])[0]
                    return 'close', (code, payload[2:].decode('utf-8'))
                return 'close', (1005, u'')
            if op != OP_CONT:
                opcode = op
            parts.append(payload)
            if fin:
                data = b''.join(parts)
                if opcode == OP_TEXT:
                    return 'text', data.decode('utf-8')
                return 'binary', data

    def recv_data(self, timeout=IO_TIMEOUT):
        """The next text or binary message (AssertionError on anything else)."""
        kind, value = self.recv(timeout)
        assert kind in ('text', 'binary'), (kind, value)
        return value

    def close(self, code=1000, reason=u''):
        """Send a close frame (answering nothing yet)."""
        payload = struct.pack('!H', code) + reason.encode('utf-8') if code is not None else b''
        self.send_frame(OP_CLOSE, payload)

    def close_handshake(self, code=1000, reason=u'', timeout=IO_TIMEOUT):
        """Close and wait for the server's close: its (code, reason)."""
        self.close(code, reason)
        while True:
            kind, value = self.recv(timeout)
            if kind == 'close':
                return value

    def is_closed(self, timeout=IO_TIMEOUT):
        return self.conversation.is_closed(timeout)

    def shutdown(self):
        try:
            self.sock.close()
        except socket.error:
            pass
