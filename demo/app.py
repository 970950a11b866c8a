"""The Portico demo app (`make run`): a page showing the protocol the request
came over and the gateway extensions the server offered for it, /echo that
echoes a POST body, /stream that streams chunks as they are made (with a
trailer where the client takes them), and /ws, a WebSocket chat that first
tells each client which protocol it runs on."""

import json
import threading
import time

import portico

try:
    from html import escape
except ImportError:  # Python 2
    from cgi import escape

PAGE = u"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Portico</title>
<style>
 body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 44rem; margin: 3rem auto; color: #222; }}
 h1 {{ font-weight: 600; }} h1 span {{ color: #7a4; }}
 table {{ border-collapse: collapse; width: 100%; }}
 td {{ padding: .35rem .6rem; border-bottom: 1px solid #eee; }}
 td:first-child {{ color: #666; width: 14rem; }} code {{ background: #f4f4f4; padding: 0 .25rem; }}
 form {{ margin-top: 1rem; }} textarea {{ width: 100%; height: 4rem; }}
 #log {{ height: 10rem; overflow-y: auto; border: 1px solid #ddd; padding: .4rem .6rem;
        font: 14px/1.4 ui-monospace, monospace; background: #fafafa; }}
 #chat input {{ width: 70%; }}
</style></head><body>
<h1>Portico <span>serving</span></h1>
<p>This page came to you over <strong>{protocol}</strong>.</p>
<table>
<tr><td>SERVER_PROTOCOL</td><td><code>{protocol}</code></td></tr>
<tr><td>gateway.http_version</td><td><code>{http_version}</code></td></tr>
<tr><td>gateway.version</td><td><code>{gateway_version}</code></td></tr>
<tr><td>gateway.extensions</td><td>{extensions}</td></tr>
<tr><td>wsgi.url_scheme</td><td><code>{scheme}</code></td></tr>
<tr><td>your address</td><td><code>{remote}</code></td></tr>
</table>
<form method="post" action="/echo"><p>POST a body to <code>/echo</code>:</p>
<textarea name="text">hello, portico</textarea><br><button>echo it</button></form>
<p><a href="/stream">/stream</a> sends ten chunks, a fifth of a second apart.</p>
<h2>WebSocket chat</h2>
<table>
<tr><td>WebSocket state</td><td><code id="ws-state">connecting&hellip;</code></td></tr>
<tr><td>it runs on</td><td><code id="ws-protocol">?</code></td></tr>
<tr><td>gateway.extensions there</td><td id="ws-extensions">?</td></tr>
<tr><td>extensions your browser offered</td><td id="ws-offered">?</td></tr>
</table>
<div id="log"></div>
<form id="chat"><input id="message" autocomplete="off" placeholder="say something to everyone here">
<button>send</button></form>
<script>{script}</script>
</body></html>
"""

SCRIPT = u"""
(function () {
  var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  var ws = new WebSocket(scheme + location.host + '/ws', ['chat']);
  var log = document.getElementById('log');
  function show(id, text) { document.getElementById(id).textContent = text; }
  function line(text) {
    var div = document.createElement('div');
    div.textContent = text;
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
  }
  ws.onopen = function () { show('ws-state', 'open (subprotocol: ' + (ws.protocol || 'none') + ')'); };
  ws.onclose = function (e) { show('ws-state', 'closed (' + e.code + (e.reason ? ' ' + e.reason : '') + ')'); };
  ws.onmessage = function (e) {
    var m = JSON.parse(e.data);
    if (m.type === 'hello') {
      show('ws-protocol', m.protocol + ' (SERVER_PROTOCOL ' + m.server_protocol + ')');
      show('ws-extensions', m.gateway_extensions.join(', ') || 'none');
      show('ws-offered', m.offered_extensions.join(', ') || 'none');
      line('* you are ' + m.you + '; ' + m.people + ' here');
    } else if (m.type === 'say') {
      line(m.from + ': ' + m.text);
    } else if (m.type === 'note') {
      line('* ' + m.text);
    }
  };
  document.getElementById('chat').onsubmit = function (e) {
    e.preventDefault();
    var input = document.getElementById('message');
    if (input.value && ws.readyState === 1) { ws.send(input.value); }
    input.value = '';
  };
})();
"""


def index(environ, start_response):
    extensions = sorted(environ.get('gateway.extensions', {}))
    body = PAGE.format(
        protocol=escape(environ['SERVER_PROTOCOL']),
        http_version=escape(environ.get('gateway.http_version', '?')),
        gateway_version=escape(repr(environ.get('gateway.version'))),
        extensions=', '.join('<code>%s</code>' % escape(name) for name in extensions)
        or '<em>none offered on this request</em>',
        scheme=escape(environ['wsgi.url_scheme']),
        remote=escape('%s:%s' % (environ.get('REMOTE_ADDR'), environ.get('REMOTE_PORT'))),
        script=SCRIPT,
    ).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'text/html; charset=utf-8'),
                              ('Content-Length', str(len(body)))])
    return [body]


def echo(environ, start_response):
    if environ['REQUEST_METHOD'] != 'POST':
        start_response('405 Method Not Allowed', [('Allow', 'POST'),
                                                  ('Content-Type', 'text/plain')])
        return [b'POST something here\n']
    body = environ['wsgi.input'].read()
    start_response('200 OK', [('Content-Type', environ.get('CONTENT_TYPE') or
                               'application/octet-stream')])
    return [body]


def stream(environ, start_response):
    # Where the client takes trailers (HTTP/2, or TE: trailers), the time the
    # stream took follows the body as a trailer field.
    set_trailers = environ.get('gateway.extensions', {}).get('http.response.trailers')
    headers = [('Content-Type', 'text/plain; charset=utf-8'),
               ('X-Content-Type-Options', 'nosniff')]
    if set_trailers is not None:
        headers.append(('Trailer', 'X-Stream-Seconds'))
    start_response('200 OK', headers)
    started = time.time()

    def chunks():
        for number in range(1, 11):
            yield ('chunk %d of 10, at %.3f\n' % (number, time.time())).encode('ascii')
            if number < 10:
                time.sleep(0.2)
        if set_trailers is not None:
            set_trailers([('X-Stream-Seconds', '%.3f' % (time.time() - started))])
    return chunks()


def not_found(environ, start_response):
    start_response('404 Not Found', [('Content-Type', 'text/plain')])
    return [b'not found\n']


class Room(object):
    """Everyone connected to /ws. Any thread may send to any WebSocket: the
    binding serializes senders, and a send may overlap the owner's receive."""

    def __init__(self):
        self.lock = threading.Lock()
        self.members = {}
        self.joined = 0

    def join(self, ws):
        with self.lock:
            self.joined += 1
            name = 'guest-%d' % self.joined
            self.members[name] = ws
            return name, len(self.members)

    def leave(self, name):
        with self.lock:
            self.members.pop(name, None)

    def broadcast(self, message):
        data = json.dumps(message)
        with self.lock:
            members = list(self.members.values())
        for ws in members:
            try:
                ws.send(data)
            except portico.WebSocketClosed:
                pass


ROOM = Room()
MAX_CHAT_MESSAGE = 2000


def websocket_protocol(environ):
    """How this WebSocket is carried: an HTTP/1.1 Upgrade, or (over h2) an
    extended CONNECT stream (RFC 8441)."""
    if environ['SERVER_PROTOCOL'].startswith('HTTP/2'):
        return 'HTTP/2 extended CONNECT'
    return 'HTTP/1.1 Upgrade'


def chat(environ, start_response):
    extensions = environ.get('gateway.extensions', {})
    hs = extensions.get('websocket')
    if hs is None:
        start_response('400 Bad Request', [('Content-Type', 'text/plain')])
        return [b'/ws is a WebSocket endpoint: open it from the page at /\n']
    ws = hs.accept(subprotocol='chat' if 'chat' in hs.subprotocols else None)
    name, people = ROOM.join(ws)
    try:
        ws.send(json.dumps({
            'type': 'hello', 'you': name, 'people': people,
            'protocol': websocket_protocol(environ),
            'server_protocol': environ['SERVER_PROTOCOL'],
            'subprotocol': ws.subprotocol,
            'gateway_extensions': sorted(extensions),
            'offered_extensions': hs.extensions,
        }))
        ROOM.broadcast({'type': 'note', 'text': '%s joined' % name})
        for message in ws:
            if not isinstance(message, type(u'')):
                continue  # text only in this chat
            ROOM.broadcast({'type': 'say', 'from': name, 'text': message[:MAX_CHAT_MESSAGE]})
    finally:
        ROOM.leave(name)
        ROOM.broadcast({'type': 'note', 'text': '%s left' % name})
    return []


ROUTES = {'/': index, '/echo': echo, '/stream': stream, '/ws': chat}


def application(environ, start_response):
    return ROUTES.get(environ['PATH_INFO'], not_found)(environ, start_response)
