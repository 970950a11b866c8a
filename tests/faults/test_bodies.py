"""Clients that try to take every worker with request bodies, against
`portico serve faultapps:app --threads 8` (bodyattack.py has the clients):
one HTTP/2 connection with 100 POST streams and no body, 30 HTTP/1.1
connections doing the same, a reconnecting rapid-reset client, and a body
that stops while the app reads it. A bystander on another connection must
be served throughout. Run with Debian's python3 (python3-h2)."""

import os
import re
import socket
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'python'))

from support import Conversation, library_available, request_bytes  # noqa: E402
from test_faults import FaultServer  # noqa: E402
import bodyattack  # noqa: E402


@unittest.skipUnless(library_available(), 'libportico.so not built')
class WorkersAgainstBodies(unittest.TestCase):

    def serve(self, *args):
        server = FaultServer('--threads', '8', *args)
        self.addCleanup(server.process.stop)
        return server

    def calls(self, server, path):
        return server.stats()['calls'].get(path, 0)

    def attack_with_bystander(self, server, make_attack, seconds):
        bystander = bodyattack.Bystander(server.port)
        bystander.start()
        attack = make_attack()
        time.sleep(seconds)
        calls = self.calls(server, '/read-body')
        result = attack.finish()
        served = bystander.finish()
        return result, served, calls

    def check_bystander(self, served):
        self.assertEqual(served['failed'], 0, served)
        self.assertGreaterEqual(served['ok'], 10, served)
        self.assertLess(served['slowest_s'], 1.5, served)  # before: 2 s timeouts

    def test_h2_streams_without_body_hold_no_worker(self):
        server = self.serve('--min-body-rate-grace', '2')
        result, served, calls = self.attack_with_bystander(
            server, lambda: bodyattack.H2NoBody(server.port, streams=100), 3)
        self.check_bystander(served)
        self.assertEqual(calls, 0)  # the app never saw one
        self.assertEqual(result['resets'], 100, result)  # RST_STREAM at the grace
        output = server.process.output()
        self.assertEqual(output.count('RST_STREAM CANCEL to 127.0.0.1'), 100, output[-2000:])

    def test_h1_connections_without_body_hold_no_worker(self):
        server = self.serve('--min-body-rate-grace', '2')
        result, served, calls = self.attack_with_bystander(
            server, lambda: bodyattack.H1NoBody(server.port, connections=30), 3)
        self.check_bystander(served)
        self.assertEqual(calls, 0)
        self.assertEqual(result['answers'], {'408': 30}, result)
        self.assertEqual(server.process.output().count('the server answered 408 itself'), 30)

    def test_rapid_reset_never_reaches_the_app(self):
        server = self.serve()
        bystander = bodyattack.Bystander(server.port)
        bystander.start()
        result = bodyattack.rapid_reset(server.port, 3)
        served = bystander.finish()
        self.check_bystander(served)
        calls = self.calls(server, '/reset-target')
        output = server.process.output()
        reset = sum(int(n) for n in re.findall(r'closed: (\d+) streams reset', output))
        unseen = sum(int(n) for n in re.findall(r'(\d+) requests ended before the app', output))
        sys.stderr.write('\n  rapid reset 3 s: %d connections, %d streams reset (server), %d '
                         'ended unseen, %d app calls\n' % (result['connections'], reset, unseen,
                                                          calls))
        self.assertGreaterEqual(result['connections'], 2, result)
        self.assertGreaterEqual(reset, 1000 * result['goaways'], result)
        # Before: every stream reached the app (about 1000 per connection).
        self.assertLess(calls, reset / 20.0, (calls, reset))

    def test_worker_streams_per_connection_capped(self):
        # Four streams of one connection, each an app call of 1 s: with
        # --max-worker-streams 2 they run two at a time, and the other
        # workers stay free for other clients meanwhile.
        server = self.serve('--max-worker-streams', '2')
        sock = socket.create_connection(('127.0.0.1', server.port), timeout=20)
        self.addCleanup(sock.close)
        conn = bodyattack.h2.connection.H2Connection(
            bodyattack.h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        for _ in range(4):
            conn.send_headers(conn.get_next_available_stream_id(), [
                (':method', 'GET'), (':scheme', 'http'), (':authority', 'x'),
                (':path', '/slow?s=1')], end_stream=True)
        started = time.time()
        sock.sendall(conn.data_to_send())
        bystander = bodyattack.Bystander(server.port)
        bystander.start()
        ended, answered = set(), {}
        while len(ended) < 4:
            data = sock.recv(65536)
            self.assertTrue(data, 'closed with %d streams answered' % len(ended))
            for event in conn.receive_data(data):
                if isinstance(event, bodyattack.h2.events.ResponseReceived):
                    answered[event.stream_id] = time.time() - started
                elif isinstance(event, bodyattack.h2.events.StreamEnded):
                    ended.add(event.stream_id)
            sock.sendall(conn.data_to_send())
        served = bystander.finish()
        times = sorted(answered.values())
        # Two at once, the others a whole app call later.
        self.assertLess(times[1] - times[0], 0.9, times)
        self.assertGreaterEqual(times[2] - times[0], 0.9, times)
        self.assertGreaterEqual(times[2], 1.9, times)
        self.assertLess(served['slowest_s'], 1.5, served)  # before: 2 s timeouts
        self.assertEqual(served['failed'], 0, served)

    def test_body_timeout_h1(self):
        # The app reads a body that stops: BodyTimeout in the app, 408 for
        # the client, a log line, and the one worker is free again.
        server = FaultServer('--threads', '1', '--body-timeout', '1', '--min-body-rate', '0')
        self.addCleanup(server.process.stop)
        conversation = Conversation(server.port)
        self.addCleanup(conversation.close)
        conversation.send(request_bytes('POST', '/read-body', [('Content-Length', '100000')]) +
                          b'x' * 70000)  # past prefetch_size: the app gets it, reads, waits
        started = time.time()
        response = conversation.read_response()
        self.assertEqual(response.status, 408)
        self.assertLess(time.time() - started, 5)
        self.assertEqual(server.last('read-body', ['BodyTimeout', True]), ['BodyTimeout', True])
        self.assertEqual(server.get('/ok').status, 200)
        self.assertIn('POST /read-body: the request body stopped arriving', server.process.output())

    def test_body_timeout_h2(self):
        server = FaultServer('--threads', '1', '--body-timeout', '1', '--min-body-rate', '0')
        self.addCleanup(server.process.stop)
        attack = bodyattack.H2NoBody(server.port, streams=1, length=100000)
        self.addCleanup(attack.finish)
        # A window's worth, which the library takes while it holds the
        # request back; then past prefetch_size: the app gets it and waits.
        for size in (16384, 16384, 16384, 16383, 100):
            deadline = time.time() + 5
            while attack.conn.local_flow_control_window(1) < size and time.time() < deadline:
                time.sleep(0.02)
            with attack.lock:
                attack.conn.send_data(1, b'x' * size)
                data = attack.conn.data_to_send()
            attack.sock.sendall(data)
        deadline = time.time() + 5
        while attack.resets == 0 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(attack.resets, 1)
        self.assertEqual(server.last('read-body', ['BodyTimeout', True]), ['BodyTimeout', True])
        self.assertEqual(server.get('/ok').status, 200)
        self.assertIn('POST /read-body: the request body stopped arriving', server.process.output())


if __name__ == '__main__':
    unittest.main()
