"""python3-wsproto (Debian) against `portico serve wsapps:app`: the opening
handshake, a text and a binary echo, and a clean close, driven sans-I/O over
a plain socket. Prints PASS:/FAIL: lines. Usage: wsproto_client.py PORT"""
import socket
import sys

from wsproto import ConnectionType, WSConnection
from wsproto.events import (AcceptConnection, BytesMessage, CloseConnection, Request,
                            TextMessage)


def events(sock, conn):
    """Feed the socket into wsproto until it yields events; return them."""
    while True:
        out = list(conn.events())
        if out:
            return out
        data = sock.recv(65536)
        conn.receive_data(data or None)
        if not data:
            return list(conn.events())


def main():
    port = int(sys.argv[1])
    sock = socket.create_connection(('127.0.0.1', port), timeout=10)
    conn = WSConnection(ConnectionType.CLIENT)
    sock.sendall(conn.send(Request(host='127.0.0.1:%d' % port, target='/echo')))
    if not isinstance(events(sock, conn)[0], AcceptConnection):
        print('FAIL: wsproto handshake')
        return 1
    got = []
    for message in (TextMessage(data=u'hello from wsproto \u2603'), BytesMessage(data=b'\x00\x01\xff')):
        sock.sendall(conn.send(message))
        got.extend(e for e in events(sock, conn))
    texts = [e.data for e in got if isinstance(e, (TextMessage, BytesMessage))]
    if texts != [u'hello from wsproto \u2603', b'\x00\x01\xff']:
        print('FAIL: wsproto echo: %r' % (texts,))
        return 1
    sock.sendall(conn.send(CloseConnection(code=1000)))
    closed = [e for e in events(sock, conn) if isinstance(e, CloseConnection)]
    if not closed or closed[0].code != 1000:
        print('FAIL: wsproto close: %r' % (closed,))
        return 1
    print('PASS: python wsproto echo (text, binary) and close 1000')
    return 0


if __name__ == '__main__':
    sys.exit(main())
