"""The app behind test_tls.py: what the 'tls' extension of
environ['gateway.extensions'] holds, as JSON."""

from apps import JSON, json_body

TLS_KEYS = ('version', 'cipher', 'server_name', 'alpn', 'peer_cert', 'peer_cert_chain')


def app(environ, start_response):
    extensions = environ['gateway.extensions']
    tls = extensions.get('tls')
    info = {
        'present': 'tls' in extensions,
        'protocol': environ['SERVER_PROTOCOL'],
        'scheme': environ['wsgi.url_scheme'],
    }
    if tls is not None:
        chain = tls.get('peer_cert_chain')
        info['tls'] = tls
        info['is_dict'] = type(tls) is dict
        # Native strs on 2.7 and 3 (None where the handshake settled nothing).
        info['native'] = (type(chain) is list and all(type(c) is str for c in chain) and
                          all(tls[k] is None or type(tls[k]) is str
                              for k in TLS_KEYS if k != 'peer_cert_chain'))
    start_response('200 OK', JSON)
    return [json_body(info)]
