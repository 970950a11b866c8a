"""A client that leaves in the middle of a streamed response (server-sent
events) is noticed on every protocol: HTTP/1.1 in cleartext (the inline
loop) and over TLS (the goroutine path), h2c and h2 over TLS. The app's
first write() after the client left raises portico.wsgi.ClientGone (an
IOError), or, for a generator, the server stops iterating and calls
close(): no write succeeds once the server could know (before, HTTP/1.1
took two more writes, the first drawing a reset from the client). The app
records when, and the test reads the record back (/gone-events). HTTP/2 is
spoken by a minimal client here, so that every interpreter runs every
case."""

import json
import re
import socket
import ssl
import struct
import sys
import time
import unittest
import uuid

from support import IO_TIMEOUT, ServerProcess, library_available, request_bytes
from test_tls import certificates, have

PERIOD = 1.0        # seconds between the app's events
SLACK = 0.8         # for the server to learn of the close (well under 0.1 s unloaded)
NOTICE_BOUND = 5.0  # seconds from the close to the app's error; PERIOD expected


class TwoListeners(ServerProcess):
    """`portico serve apps:app` on a TLS listener (the --bind every
    ServerProcess has, made TLS by --certfile) and a cleartext one."""

    def _wait_for_banner(self):
        deadline = time.time() + 20
        while time.time() < deadline:
            match = re.search(r'serving \S+ on https://([\d.]+):(\d+), http://[\d.]+:(\d+) ',
                              self.output())
            if match:
                self.tls_port = int(match.group(2))
                return match.group(1), int(match.group(3))
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        output = self.output()
        self.stop()
        raise AssertionError('server did not start; output:\n' + output)


def frame(kind, flags, stream, payload=b''):
    return struct.pack('>I', len(payload))[1:] + struct.pack('>BBI', kind, flags, stream) + payload


def hpack_literal(index, value):
    """A header field without indexing, its name from the static table."""
    return struct.pack('>BB', index, len(value)) + value


class H2Stream(object):
    """Just enough HTTP/2 for one GET: preface, SETTINGS, HEADERS, and the
    DATA frames of stream 1 (the server's SETTINGS are acknowledged)."""

    def __init__(self, sock, path, tls):
        self.sock = sock
        self.buffer = b''
        block = (b'\x82' + (b'\x87' if tls else b'\x86') +  # :method GET, :scheme
                 hpack_literal(4, path.encode('ascii')) + hpack_literal(1, b'localhost'))
        sock.sendall(b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + frame(4, 0, 0) +
                     frame(1, 0x5, 1, block))  # END_STREAM | END_HEADERS

    def read_data(self, until):
        data = b''
        while until not in data:
            while len(self.buffer) < 9 or len(self.buffer) < 9 + struct.unpack(
                    '>I', b'\0' + self.buffer[:3])[0]:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise AssertionError('connection closed before %r' % (until,))
                self.buffer += chunk
            length = struct.unpack('>I', b'\0' + self.buffer[:3])[0]
            kind, flags = struct.unpack('>BB', self.buffer[3:5])
            payload, self.buffer = self.buffer[9:9 + length], self.buffer[9 + length:]
            if kind == 4 and not flags & 1:
                self.sock.sendall(frame(4, 1, 0))  # SETTINGS ACK
            elif kind == 0:
                data += payload
        return data


@unittest.skipUnless(library_available(), 'libportico.so not built')
class ClientLeavesMidStream(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not have('openssl'):
            raise unittest.SkipTest('openssl not found: no certificates')
        cert, key = certificates()['server']
        cls.server = TwoListeners(args=['--threads', '4', '--bind', 'http://127.0.0.1:0',
                                        '--certfile', cert, '--keyfile', key])

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def connect(self, tls, alpn):
        sock = socket.create_connection(('127.0.0.1', self.server.tls_port if tls else self.server.port),
                                        timeout=IO_TIMEOUT)
        if not tls:
            return sock
        if hasattr(ssl, 'PROTOCOL_TLS_CLIENT'):
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:  # 2.7
            context = ssl.SSLContext(ssl.PROTOCOL_SSLv23)
        context.set_alpn_protocols([alpn])
        sock = context.wrap_socket(sock)
        self.assertEqual(sock.selected_alpn_protocol(), alpn)
        return sock

    def leave(self, protocol, mode):
        """Opens the stream, reads its first event, closes the connection:
        returns what the app recorded, the seconds from the close to it, and
        the times of the writes that succeeded after the close and SLACK."""
        token = uuid.uuid4().hex
        path = '/sse?token=%s&mode=%s&period=%s' % (token, mode, PERIOD)
        tls = protocol.endswith('tls')
        if protocol.startswith('h2'):
            sock = self.connect(tls, 'h2')
            H2Stream(sock, path, tls).read_data(b'data: 0\n\n')
        else:
            sock = self.connect(tls, 'http/1.1')
            sock.sendall(request_bytes('GET', path))
            got = b''
            while b'data: 0\n\n' not in got:
                chunk = sock.recv(65536)
                self.assertTrue(chunk, 'closed early: %r' % got)
                got += chunk
        closed = time.time()
        sock.close()
        deadline = closed + NOTICE_BOUND + 5
        while time.time() < deadline:
            conversation = self.server.http()
            conversation.request('GET', '/gone-events?token=' + token)
            seen = json.loads(conversation.getresponse().read().decode('utf-8'))
            conversation.close()
            if seen:
                what, noticed, written = seen[0][1:]
                took = noticed - closed
                sys.stderr.write('[%s %s: the app noticed after %.3f s] ' % (protocol, mode, took))
                return what, took, [t - closed for t in written if t > closed + SLACK]
            time.sleep(0.05)
        raise AssertionError('%s %s: the app never noticed the client leaving' % (protocol, mode))

    def check(self, protocol):
        for mode, expected in (('yield', 'closed'), ('write', 'write raised ClientGone')):
            what, took, late_writes = self.leave(protocol, mode)
            self.assertEqual(what, expected)
            self.assertLess(took, NOTICE_BOUND)
            self.assertEqual(late_writes, [], 'writes that succeeded after the client left')

    def test_http11_inline(self):
        self.check('h1')

    def test_http11_over_tls(self):
        self.check('h1-tls')

    def test_h2c(self):
        self.check('h2c')

    def test_h2_over_tls(self):
        self.check('h2-tls')


if __name__ == '__main__':
    unittest.main()
