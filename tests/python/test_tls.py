"""The 'tls' gateway extension over real TLS connections: Python's ssl client
(HTTP/1.1, TLS 1.2 and 1.3, SNI, ALPN, client certificates) and curl (HTTP/2
by ALPN h2, HTTP/1.1), client certificates verified (--verify-client
optional) and refused (required), and the key's absence on plaintext.
Certificates are made at test time with openssl."""

import atexit
import ctypes
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

from support import (HERE, IO_TIMEOUT, Conversation, ServerProcess, library_available,
                     request_bytes, subprocess_env)

import portico
from portico import _lib, errors, wsgi
from portico.server import REQ_TLS

SNI = 'portico.test'
_certs = {}


def have(tool):
    try:
        with open(os.devnull, 'w') as null:
            return subprocess.call([tool, '--version'], stdout=null, stderr=null) == 0 or \
                subprocess.call([tool, 'version'], stdout=null, stderr=null) == 0
    except OSError:
        return False


def certificates():
    """Paths of a server certificate and two client certificates (one to
    trust, one stranger), made once per process with openssl."""
    if not _certs:
        directory = tempfile.mkdtemp(prefix='portico-tls-')
        atexit.register(shutil.rmtree, directory, True)
        for name, subject in (('server', '/CN=127.0.0.1'), ('client', '/CN=portico-test-client'),
                              ('stranger', '/CN=portico-test-stranger')):
            cert = os.path.join(directory, name + '.pem')
            key = os.path.join(directory, name + '-key.pem')
            command = ['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                       'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
                       '-keyout', key, '-out', cert, '-subj', subject]
            if name == 'server':
                command += ['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']
            with open(os.devnull, 'w') as null:
                subprocess.check_call(command, stdout=null, stderr=null)
            _certs[name] = (cert, key)
    return _certs


def der_of(pem_text):
    return ssl.PEM_cert_to_DER_cert(pem_text)


def file_der(path):
    with open(path) as f:
        return der_of(f.read())


def client_context(cert=None, alpn=None, tls12=False):
    protocol = getattr(ssl, 'PROTOCOL_TLS_CLIENT', None) or ssl.PROTOCOL_SSLv23
    context = ssl.SSLContext(protocol)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        context.load_cert_chain(*cert)
    if alpn:
        context.set_alpn_protocols(alpn)
    if tls12:
        if hasattr(context, 'maximum_version'):
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        else:
            context.options |= ssl.OP_NO_TLSv1_3
        context.set_ciphers('ECDHE-ECDSA-AES128-GCM-SHA256')
    return context


class TLSConversation(Conversation):
    """A Conversation over TLS (the handshake runs in the constructor)."""

    def __init__(self, port, context, server_name=None):
        raw = socket.create_connection(('127.0.0.1', port), timeout=IO_TIMEOUT)
        self.sock = context.wrap_socket(raw, server_hostname=server_name)
        self.buffer = b''


class TLSServerTestCase(unittest.TestCase):

    verify = None  # --verify-client

    @classmethod
    def setUpClass(cls):
        if not library_available():
            raise unittest.SkipTest('libportico.so not built')
        if not have('openssl'):
            raise unittest.SkipTest('openssl not found: no certificates')
        certs = certificates()
        args = ['--threads', '2', '--certfile', certs['server'][0], '--keyfile', certs['server'][1]]
        if cls.verify:
            args += ['--ca-certs', certs['client'][0], '--verify-client', cls.verify]
        cls.server = ServerProcess(app='tlsapps:app', args=args)

    @classmethod
    def tearDownClass(cls):
        server = getattr(cls, 'server', None)
        if server is not None:
            server.stop()

    def get_tls(self, context, server_name=None):
        """GET / over TLS; the app's JSON report and the client's socket."""
        conversation = TLSConversation(self.server.port, context, server_name)
        self.addCleanup(conversation.close)
        conversation.send(request_bytes('GET', '/'))
        response = conversation.read_response()
        self.assertEqual(response.status, 200, response)
        return json.loads(response.body.decode('utf-8')), conversation.sock

    def assert_refused(self, context):
        """The handshake fails (TLS 1.3 reports the server's alert at the
        first read); the app never answers."""
        try:
            conversation = TLSConversation(self.server.port, context)
            self.addCleanup(conversation.close)
            conversation.send(request_bytes('GET', '/'))
            data = conversation.sock.recv(4096)
        except (ssl.SSLError, socket.error) as exc:
            data = b''
            self.assertNotIsInstance(exc, socket.timeout)
        self.assertEqual(data, b'')

    def curl(self, *args):
        if not have('curl'):
            self.skipTest('curl not found')
        url = 'https://%s:%d/' % (SNI, self.server.port)
        command = ['curl', '-sS', '-k', '--max-time', '10',
                   '--resolve', '%s:%d:127.0.0.1' % (SNI, self.server.port)] + list(args) + [url]
        return json.loads(subprocess.check_output(command).decode('utf-8'))


class TLSOptionalClientCertTest(TLSServerTestCase):

    verify = 'optional'

    def test_tls13_with_client_cert_sni_and_alpn(self):
        certs = certificates()
        info, sock = self.get_tls(client_context(certs['client'], ['http/1.1']), SNI)
        self.assertTrue(info['present'] and info['is_dict'] and info['native'], info)
        tls = info['tls']
        self.assertEqual(sorted(tls), ['alpn', 'cipher', 'peer_cert', 'peer_cert_chain',
                                       'server_name', 'version'])
        self.assertEqual(tls['version'], 'TLSv1.3')
        self.assertEqual(tls['version'], sock.version())
        self.assertEqual(tls['cipher'], sock.cipher()[0])  # TLS 1.3 names are IANA's in OpenSSL too
        self.assertEqual(tls['server_name'], SNI)
        self.assertEqual(tls['alpn'], 'http/1.1')
        self.assertEqual(der_of(tls['peer_cert']), file_der(certs['client'][0]))
        self.assertEqual(tls['peer_cert_chain'], [tls['peer_cert']])
        self.assertEqual(info['scheme'], 'https')

    def test_tls12_cipher_by_its_iana_name(self):
        info, sock = self.get_tls(client_context(certificates()['client'], tls12=True), SNI)
        tls = info['tls']
        self.assertEqual((tls['version'], sock.version()), ('TLSv1.2', 'TLSv1.2'))
        self.assertEqual(tls['cipher'], 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256')
        self.assertIsNotNone(tls['peer_cert'])

    def test_no_client_cert_no_sni_no_alpn(self):
        info, _ = self.get_tls(client_context())
        tls = info['tls']
        self.assertTrue(info['native'], info)
        self.assertEqual((tls['server_name'], tls['alpn'], tls['peer_cert'],
                          tls['peer_cert_chain']), (None, None, None, []))
        self.assertEqual(tls['version'], 'TLSv1.3')

    def test_http2_by_alpn_with_curl(self):
        certs = certificates()
        info = self.curl('--http2', '--cert', certs['client'][0], '--key', certs['client'][1])
        self.assertEqual(info['protocol'], 'HTTP/2.0')
        tls = info['tls']
        self.assertEqual((tls['alpn'], tls['server_name'], tls['version']), ('h2', SNI, 'TLSv1.3'))
        self.assertEqual(der_of(tls['peer_cert']), file_der(certs['client'][0]))
        self.assertTrue(info['native'], info)

    def test_http11_by_alpn_with_curl(self):
        info = self.curl('--http1.1')
        self.assertEqual(info['protocol'], 'HTTP/1.1')
        self.assertEqual((info['tls']['alpn'], info['tls']['peer_cert']), ('http/1.1', None))

    def test_http10_over_tls(self):
        conversation = TLSConversation(self.server.port, client_context(), SNI)
        self.addCleanup(conversation.close)
        conversation.send(request_bytes('GET', '/', version='HTTP/1.0'))
        info = json.loads(conversation.read_response().body.decode('utf-8'))
        self.assertEqual((info['protocol'], info['tls']['server_name']), ('HTTP/1.0', SNI))

    def test_untrusted_client_cert_is_refused_even_when_optional(self):
        self.assert_refused(client_context(certificates()['stranger']))


class TLSRequiredClientCertTest(TLSServerTestCase):

    verify = 'required'

    def test_client_without_cert_is_refused(self):
        self.assert_refused(client_context())

    def test_client_with_untrusted_cert_is_refused(self):
        self.assert_refused(client_context(certificates()['stranger']))

    def test_trusted_client_cert_gets_in(self):
        info, _ = self.get_tls(client_context(certificates()['client']))
        self.assertEqual(der_of(info['tls']['peer_cert']),
                         file_der(certificates()['client'][0]))


class PlaintextTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not library_available():
            raise unittest.SkipTest('libportico.so not built')
        cls.server = ServerProcess(app='tlsapps:app', args=['--threads', '2'])

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_no_tls_key_on_plaintext(self):
        conversation = Conversation(self.server.port)
        self.addCleanup(conversation.close)
        conversation.send(request_bytes('GET', '/'))
        response = conversation.read_response()
        info = json.loads(response.body.decode('utf-8'))
        self.assertEqual((info['present'], info['scheme']), (False, 'http'))
        self.assertNotIn('tls', info)


class InProcessTest(unittest.TestCase):
    """portico_request_tls through ctypes: the flag, the size query,
    PORTICO_ERR_BUFFER, and tls_info's retry with a buffer too small."""

    def setUp(self):
        if not library_available():
            self.skipTest('libportico.so not built')
        if not have('openssl'):
            self.skipTest('openssl not found')

    def pull(self, bind, context=None):
        """One request from an in-process server on BIND, made by a client
        thread (over TLS with CONTEXT); the server and the request."""
        certs = certificates()
        server = portico.Server({'certfile': certs['server'][0], 'keyfile': certs['server'][1],
                                 'ca_certs': certs['client'][0], 'verify_client': 'optional'})
        self.addCleanup(server.close)
        self.addCleanup(server.shutdown)
        port = int(server.listen(bind).rpartition(':')[2])

        def client():
            try:
                if context is None:
                    conversation = Conversation(port)
                else:
                    conversation = TLSConversation(port, context, SNI)
                conversation.send(request_bytes('GET', '/'))
                conversation.read_response()
                conversation.close()
            except Exception:
                pass  # the assertions are on the server's side
        thread = threading.Thread(target=client)
        thread.start()
        self.addCleanup(thread.join, IO_TIMEOUT)
        for _ in range(100):
            request = server.next(100)
            if request is not None:
                return request
        self.fail('no request')

    def answer(self, request):
        head = b'204 No Content'
        _lib.load().portico_request_respond(request.id, head, len(head), b'', 0, 1)

    def test_copy_out_and_size_query(self):
        lib = _lib.load()
        request = self.pull('https://127.0.0.1:0',
                            client_context(certificates()['client'], ['http/1.1']))
        self.addCleanup(self.answer, request)
        self.assertTrue(request.flags & REQ_TLS)
        size = lib.portico_request_tls(request.id, None, 0)
        self.assertGreater(size, 400)  # the client's certificate is in it
        small = ctypes.create_string_buffer(16)
        self.assertEqual(lib.portico_request_tls(request.id, small, 16), errors.ERR_BUFFER)
        buf = ctypes.create_string_buffer(size)
        self.assertEqual(lib.portico_request_tls(request.id, buf, size), size)
        fields = buf.raw.decode('latin-1').split('\0')
        self.assertEqual(len(fields), 5)
        self.assertEqual((fields[0], fields[2], fields[3]), ('TLSv1.3', SNI, 'http/1.1'))
        self.assertTrue(fields[1].startswith('TLS_AES_') or fields[1].startswith('TLS_CHACHA20'))
        self.assertEqual(der_of(fields[4]), file_der(certificates()['client'][0]))
        wsgi.WSGIHandler(None)  # binds the library's functions
        full = wsgi.tls_info(request.id)
        saved = wsgi.TLS_BUFFER
        wsgi.TLS_BUFFER = 16  # forces the size query and a second copy
        try:
            self.assertEqual(wsgi.tls_info(request.id), full)
        finally:
            wsgi.TLS_BUFFER = saved
        self.assertEqual(lib.portico_request_tls(987654321, None, 0), errors.ERR_INVALID)

    def test_plaintext_record_has_no_flag_and_no_details(self):
        request = self.pull('http://127.0.0.1:0')
        self.addCleanup(self.answer, request)
        self.assertFalse(request.flags & REQ_TLS)
        self.assertEqual(_lib.load().portico_request_tls(request.id, None, 0), 0)


class CommandLineTest(unittest.TestCase):

    def run_cli(self, *args):
        process = subprocess.Popen([sys.executable, '-m', 'portico', 'serve', 'tlsapps:app'] +
                                   list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   env=subprocess_env(), cwd=HERE)
        output = process.communicate()[0].decode('utf-8', 'replace')
        return process.returncode, output

    def test_verify_client_needs_ca_certs(self):
        if not have('openssl'):
            self.skipTest('openssl not found')
        server = certificates()['server']
        code, output = self.run_cli('--certfile', server[0], '--keyfile', server[1],
                                    '--verify-client', 'required')
        self.assertNotEqual(code, 0)
        self.assertIn('--verify-client required needs --ca-certs', output)

    def test_verify_client_choices(self):
        code, output = self.run_cli('--verify-client', 'maybe')
        self.assertNotEqual(code, 0)
        self.assertIn('invalid choice', output)


if __name__ == '__main__':
    unittest.main()
