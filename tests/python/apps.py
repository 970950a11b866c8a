"""The WSGI applications the suite serves (`portico serve apps:app`).

One dispatcher routes on PATH_INFO's first segment. Well-behaved endpoints run
behind wsgiref.validate.validator, with its warnings turned into errors, so any
PEP 3333 breach on the server side shows up as a 500 in the test that hit it.
Endpoints that misbehave on purpose (exceptions, exc_info) run unvalidated.
"""

import hashlib
import io
import json
import sys
import threading
import time
import warnings
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter('error', WSGIWarning)

PY2 = sys.version_info[0] == 2

close_calls = []           # paths whose iterable was closed, for /closed
close_lock = threading.Lock()

TEXT = [('Content-Type', 'text/plain')]
JSON = [('Content-Type', 'application/json')]


def json_body(value):
    return json.dumps(value, sort_keys=True).encode('utf-8')


def query_value(environ, name, default):
    for pair in environ['QUERY_STRING'].split('&'):
        key, _, value = pair.partition('=')
        if key == name:
            return value
    return default


def environ_app(environ, start_response):
    """The environ as JSON: native strs as they are, chosen extensions shown."""
    shown = dict((k, v) for k, v in environ.items() if isinstance(v, str))
    if PY2:  # byte strs holding latin-1: JSON needs them as text
        shown = dict((k, v.decode('latin-1')) for k, v in shown.items())
    shown['wsgi.version'] = list(environ['wsgi.version'])
    shown['gateway.version'] = list(environ['gateway.version'])
    shown['gateway.extensions'] = sorted(environ['gateway.extensions'])
    for key in ('wsgi.multithread', 'wsgi.multiprocess', 'wsgi.run_once',
                'wsgi.input_terminated'):
        shown[key] = environ[key]
    shown['has_file_wrapper'] = callable(environ.get('wsgi.file_wrapper'))
    shown['errors_is_stream'] = hasattr(environ['wsgi.errors'], 'write')
    # PATH_INFO as latin-1 code points, so bytes survive the JSON trip exactly.
    shown['PATH_INFO_ORDS'] = [ord(c) for c in environ['PATH_INFO']]
    start_response('200 OK', JSON)
    return [json_body(shown)]


def body_summary(data, extra=None):
    summary = {'length': len(data), 'sha1': hashlib.sha1(data).hexdigest()}
    summary.update(extra or {})
    return json_body(summary)


def echo_app(environ, start_response):
    """Reads the body with the method named by ?mode=, answers its length and
    SHA-1 (?mode=raw: echoes it back)."""
    stream = environ['wsgi.input']
    mode = query_value(environ, 'mode', 'chunks')
    size = int(query_value(environ, 'size', '8192'))
    if mode == 'chunks':
        parts = []
        while True:
            part = stream.read(size)
            if not part:
                break
            assert len(part) <= size
            parts.append(part)
        data = b''.join(parts)
    elif mode == 'lines':
        lines = []
        while True:
            line = stream.readline()
            if not line:
                break
            lines.append(line)
        data = b''.join(lines)
        start_response('200 OK', JSON)
        return [body_summary(data, {'lines': len(lines)})]
    elif mode == 'limited-lines':
        lines = []
        while True:
            line = stream.readline(size)
            if not line:
                break
            assert len(line) <= size
            lines.append(line)
        data = b''.join(lines)
        start_response('200 OK', JSON)
        return [body_summary(data, {'lines': len(lines)})]
    elif mode == 'iter':
        lines = list(stream)
        data = b''.join(lines)
        start_response('200 OK', JSON)
        return [body_summary(data, {'lines': len(lines)})]
    elif mode == 'readlines':
        lines = stream.readlines()
        data = b''.join(lines)
        start_response('200 OK', JSON)
        return [body_summary(data, {'lines': len(lines)})]
    elif mode == 'raw':
        data = stream.read(int(environ.get('CONTENT_LENGTH') or 0))
        start_response('200 OK', [('Content-Type', 'application/octet-stream')])
        return [data]
    else:
        raise ValueError('unknown mode %r' % mode)
    start_response('200 OK', JSON)
    return [body_summary(data, {'after_end': len(stream.read(10))})]


def read_all_app(environ, start_response):
    """read() with no size (PEP 3333 allows it; the validator does not)."""
    data = environ['wsgi.input'].read()
    start_response('200 OK', JSON)
    return [body_summary(data)]


def ignore_body_app(environ, start_response):
    start_response('200 OK', TEXT)
    return [b'not reading your body\n']


def stream_app(environ, start_response):
    """?n= chunks, from a generator, so the length is unknown up front."""
    count = int(query_value(environ, 'n', '5'))
    start_response('200 OK', TEXT)

    def chunks():
        yield b''  # empty chunks must not send the head early or end the body
        for number in range(count):
            yield ('chunk %d\n' % number).encode('ascii')
    return chunks()


def write_app(environ, start_response):
    """The legacy write() callable, then the iterable for the rest."""
    write = start_response('200 OK', TEXT)
    write(b'written 1\n')
    write(b'written 2\n')
    return [b'returned\n']


def file_wrapper_app(environ, start_response):
    data = b''.join(('line %05d\n' % n).encode('ascii') for n in range(20000))
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('X-Sha1', hashlib.sha1(data).hexdigest())])
    return environ['wsgi.file_wrapper'](io.BytesIO(data), 4096)


class ClosingBody(object):
    """An iterable (over a list or a live generator) that records its close()
    in close_calls."""

    def __init__(self, label, chunks):
        self.label = label
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        with close_lock:
            close_calls.append(self.label)


def closing_app(environ, start_response):
    start_response('200 OK', TEXT)
    return ClosingBody(environ['QUERY_STRING'], [b'a', b'b'])


def closed_app(environ, start_response):
    """Which ClosingBody labels were closed so far."""
    with close_lock:
        labels = list(close_calls)
    start_response('200 OK', JSON)
    return [json_body(labels)]


def slow_app(environ, start_response):
    time.sleep(float(query_value(environ, 's', '1')))
    start_response('200 OK', TEXT)
    return [b'slow done\n']


gone_events = []          # [token, what, time, write times] from sse_app, for /gone-events
gone_lock = threading.Lock()


def sse_app(environ, start_response):
    """Server-sent events every ?period= seconds (1) for up to 30 events, to
    a client expected to leave: records (by ?token=) the time of each write
    that succeeded and of the end. ?mode=write streams through the write()
    callable and records what it raised; otherwise a generator records the
    close() that ends it."""
    token = query_value(environ, 'token', '')
    period = float(query_value(environ, 'period', '1'))
    written = []

    def record(what):
        with gone_lock:
            gone_events.append([token, what, time.time(), written])

    write = start_response('200 OK', [('Content-Type', 'text/event-stream')])
    if query_value(environ, 'mode', 'yield') == 'write':
        try:
            for i in range(30):
                write(('data: %d\n\n' % i).encode('ascii'))
                written.append(time.time())
                time.sleep(period)
        except IOError as exc:
            record('write raised ' + type(exc).__name__)
            raise
        record('never')
        return []

    def events():
        try:
            for i in range(30):
                yield ('data: %d\n\n' % i).encode('ascii')
                written.append(time.time())  # the server took it: written
                time.sleep(period)
            record('never')
        except GeneratorExit:
            record('closed')
            raise
    return events()


def gone_events_app(environ, start_response):
    """What sse_app recorded for ?token=, as JSON."""
    token = query_value(environ, 'token', '')
    with gone_lock:
        seen = [event for event in gone_events if event[0] == token]
    start_response('200 OK', JSON)
    return [json_body(seen)]


def status_app(environ, start_response):
    """Answers ?code= with a small list body (the one-call fast path; left
    unvalidated, since the validator wraps the list in an iterator and forbids
    a body on 204/304, which the server must then drop)."""
    code = query_value(environ, 'code', '200')
    start_response('%s Whatever' % code, TEXT + [('X-Status', code)])
    return [b'status ', b'body\n']


# ---- unvalidated: errors on purpose -------------------------------------

def raise_before_app(environ, start_response):
    raise RuntimeError('boom before start_response')


def raise_after_start_app(environ, start_response):
    """start_response called, nothing sent yet: still a clean 500."""
    start_response('200 OK', TEXT)
    raise RuntimeError('boom after start_response')


def raise_midstream_app(environ, start_response):
    start_response('200 OK', TEXT)

    def chunks():
        yield b'first chunk\n'
        raise RuntimeError('boom mid-stream')
    return ClosingBody('midstream', chunks())


def exc_info_app(environ, start_response):
    """The PEP 3333 error idiom: replace the headers before anything is sent."""
    import sys
    start_response('200 OK', TEXT)
    try:
        raise ValueError('handled')
    except ValueError:
        start_response('503 Service Unavailable', TEXT + [('X-Handled', 'yes')], sys.exc_info())
    return [b'handled error\n']


def exc_info_after_send_app(environ, start_response):
    """exc_info after the head went out must re-raise: the server drops the
    connection rather than send a second status."""
    import sys
    write = start_response('200 OK', TEXT)
    write(b'partial\n')
    try:
        raise ValueError('too late')
    except ValueError:
        start_response('500 Internal Server Error', TEXT, sys.exc_info())
    return [b'never sent\n']


def bad_header_app(environ, start_response):
    kind = environ['QUERY_STRING']
    if kind == 'crlf':
        start_response('200 OK', [('X-Bad', 'a\r\nInjected: yes')])
    elif kind == 'status':
        start_response('OK', TEXT)
    elif kind == 'bytes-body':
        start_response('200 OK', TEXT)
        return [u'text, not bytes']
    elif kind == 'twice':
        start_response('200 OK', TEXT)
        start_response('200 OK', TEXT)
    return [b'should not be seen\n']


VALIDATED = {
    'environ': environ_app,
    'echo': echo_app,
    'ignore-body': ignore_body_app,
    'stream': stream_app,
    'write': write_app,
    'file-wrapper': file_wrapper_app,
    'closing': closing_app,
    'closed': closed_app,
    'slow': slow_app,
    'sse': sse_app,
    'gone-events': gone_events_app,
}
def wrong_length_app(environ, start_response):
    """Declares ?cl= bytes and gives ?n= ('x' each), in one piece or, with
    ?chunks=1, one write per byte."""
    declared, given = query_value(environ, 'cl', '3'), int(query_value(environ, 'n', '19'))
    start_response('200 OK', [('Content-Length', declared)])
    if query_value(environ, 'chunks', '0') == '1':
        return iter([b'x'] * given)
    return [b'x' * given]


UNVALIDATED = {
    'wrong-length': wrong_length_app,
    # 2.7's validator predates readline(size): the same echo, unwrapped.
    'echo-unvalidated': echo_app,
    'status': status_app,
    'read-all': read_all_app,
    'raise-before': raise_before_app,
    'raise-after-start': raise_after_start_app,
    'raise-midstream': raise_midstream_app,
    'exc-info': exc_info_app,
    'exc-info-after-send': exc_info_after_send_app,
    'bad-header': bad_header_app,
}
ROUTES = dict((name, validator(app)) for name, app in VALIDATED.items())
ROUTES.update(UNVALIDATED)


def app(environ, start_response):
    route = ROUTES.get(environ['PATH_INFO'].lstrip('/').split('/')[0])
    if route is None:
        route = environ_app  # any other path: show the environ (percent-decoding tests)
    return route(environ, start_response)
