"""The app the deployment tests serve: /pid answers with the worker's pid,
/slow?S sleeps S seconds first, /health is for load balancer checks, and /ws
echoes WebSocket messages after
naming the protocol that carried the handshake."""

import os
import time

PID = str(os.getpid()).encode('ascii')


def app(environ, start_response):
    path = environ['PATH_INFO']
    if path == '/ws':
        handshake = environ['gateway.extensions'].get('websocket')
        if handshake is None:
            start_response('426 Upgrade Required', [('Upgrade', 'websocket')])
            return [b'WebSocket only\n']
        ws = handshake.accept()
        ws.send(environ['SERVER_PROTOCOL'])  # which protocol carried the handshake
        for message in ws:
            ws.send(message)
        return []
    if path == '/slow':
        time.sleep(float(environ['QUERY_STRING'] or '1'))
    body = PID + b' ' + environ['SERVER_PROTOCOL'].encode('ascii') + b'\n'
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]
