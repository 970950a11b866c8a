# The WebSocket benchmark app for Portico: echo every message (gateway API).


def app(environ, start_response):
    handshake = environ['gateway.extensions'].get('websocket')
    if handshake is None:
        start_response('426 Upgrade Required', [('Upgrade', 'websocket'), ('Content-Length', '0')])
        return []
    ws = handshake.accept()
    for message in ws:
        ws.send(message)
    return []
