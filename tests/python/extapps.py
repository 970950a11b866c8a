"""The app behind test_extensions.py: the gateway extensions of
environ['gateway.extensions'] (early hints, trailers both ways, push), each
endpoint reporting what it saw as JSON or plain text."""

from apps import JSON, TEXT, json_body, query_value  # shared with the WSGI test apps

LINK = '</style.css>; rel=preload; as=style'


def error_name(call, *args):
    """The name of the exception CALL(*ARGS) raises ('' if none)."""
    try:
        call(*args)
    except Exception as exc:
        return type(exc).__name__
    return ''


def extensions_app(environ, start_response):
    """Which extensions this request got."""
    extensions = environ['gateway.extensions']
    hint = extensions.get('http.response.early_hint')
    start_response('200 OK', JSON)
    return [json_body({
        'extensions': sorted(extensions),
        'wsgi.early_hints': 'wsgi.early_hints' in environ,
        'same_callable': hint is not None and environ.get('wsgi.early_hints') is hint,
        'pushed': environ.get('gateway.pushed', False),
    })]


def hints_app(environ, start_response):
    """?n= rounds of 103 (each with two Link fields, the second numbered),
    then a 200; ?via=wsgi uses wsgi.early_hints."""
    count = int(query_value(environ, 'n', '1'))
    if query_value(environ, 'via', '') == 'wsgi':
        hint = environ.get('wsgi.early_hints')
    else:
        hint = environ['gateway.extensions'].get('http.response.early_hint')
    if hint is not None:
        for number in range(count):
            hint([('Link', LINK), ('Link', '</app%d.js>; rel=preload; as=script' % number)])
    start_response('200 OK', TEXT + [('Link', LINK)])
    return [b'hinted\n' if hint is not None else b'no hints\n']


def hints_errors_app(environ, start_response):
    """Early hints misused: a bad field, a non-str, and after the response
    has started; the verdicts come as the last chunk."""
    hint = environ['gateway.extensions']['http.response.early_hint']
    bad_field = error_name(hint, [('X-Bad', 'a\r\nInjected: yes')])
    bad_type = error_name(hint, [('X-Bad', 1)])
    start_response('200 OK', TEXT)

    def chunks():
        yield b'started\n'
        late = error_name(hint, [('Link', LINK)])
        yield ('%s %s %s\n' % (bad_field, bad_type, late)).encode('ascii')
    return chunks()


def trailers_app(environ, start_response):
    """Response trailers. ?mode=stream (generator, trailers set first),
    late (set after the last chunk), list (a list body), replace (set twice).
    Reports the errors for a bad trailer in the body."""
    set_trailers = environ['gateway.extensions'].get('http.response.trailers')
    mode = query_value(environ, 'mode', 'stream')
    fields = [('X-Trailer', 'yes'), ('X-Checksum', 'abc')]
    if set_trailers is None:
        start_response('200 OK', TEXT)
        return [b'no trailers\n']
    bad = '%s/%s' % (error_name(set_trailers, [('X-Bad', 'a\nb')]),
                     error_name(set_trailers, [('Bad Name', 'v')]))
    if mode == 'replace':
        set_trailers([('X-Old', 'gone')])
    if mode != 'late':
        set_trailers(fields)
    start_response('200 OK', TEXT + [('Trailer', 'X-Trailer, X-Checksum')])
    if mode == 'list':
        return [b'list body\n', ('bad=%s\n' % bad).encode('ascii')]

    def chunks():
        yield b'part 1\n'
        yield ('bad=%s\n' % bad).encode('ascii')
        if mode == 'late':
            set_trailers(fields)
    return chunks()


def request_trailers_app(environ, start_response):
    """Reads the body (unless ?read=no), then reports the request's trailers."""
    get_trailers = environ['gateway.extensions'].get('http.request.trailers')
    result = {'present': get_trailers is not None}
    if get_trailers is not None:
        if query_value(environ, 'read', 'yes') == 'no':
            result['early'] = error_name(get_trailers)
        result['body'] = environ['wsgi.input'].read().decode('latin-1')
        result['trailers'] = [list(pair) for pair in get_trailers()]
        result['again'] = [list(pair) for pair in get_trailers()]
    start_response('200 OK', JSON)
    return [json_body(result)]


ROUTES = {
    'hints': hints_app,
    'hints-errors': hints_errors_app,
    'trailers': trailers_app,
    'request-trailers': request_trailers_app,
}


def app(environ, start_response):
    route = ROUTES.get(environ['PATH_INFO'].lstrip('/').split('/')[0], extensions_app)
    return route(environ, start_response)
