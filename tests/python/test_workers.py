"""WorkerPool's hand-off, against a fake server (no library needed): one
thread at most inside next(), slow apps overlapping, clean exit on close."""

import threading
import time
import unittest

import support  # noqa: F401 (puts bindings/python on sys.path)
from portico.errors import ERR_CLOSED, ServerClosed
from portico.workers import WorkerPool


class FakeServer(object):
    """Hands out REQUESTS, then reports closed; records how many threads
    were inside next() at once."""

    def __init__(self, requests):
        self.requests = list(requests)
        self.lock = threading.Lock()
        self.inside = 0
        self.most_inside = 0

    def next(self, timeout_ms):
        with self.lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        time.sleep(0.0005)  # let a racing thread in, if the pool would allow one
        with self.lock:
            self.inside -= 1
            if not self.requests:
                raise ServerClosed(ERR_CLOSED, 'closed')
            return self.requests.pop(0)


class WorkerPoolTest(unittest.TestCase):

    def run_pool(self, requests, handler, threads):
        server = FakeServer(requests)
        pool = WorkerPool(server, handler, threads)
        pool.start()
        self.assertTrue(pool.join(30), 'workers did not exit after the server closed')
        return server

    def test_fast_requests_one_puller(self):
        served = []
        server = self.run_pool(range(500), served.append, 8)
        self.assertEqual(sorted(served), list(range(500)))
        self.assertEqual(server.most_inside, 1)

    def test_slow_requests_overlap(self):
        running = [0]
        most = [0]
        lock = threading.Lock()

        def slow(request):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.1)
            with lock:
                running[0] -= 1

        started = time.time()
        server = self.run_pool(range(16), slow, 8)
        elapsed = time.time() - started
        self.assertEqual(server.most_inside, 1)
        self.assertGreaterEqual(most[0], 6)   # blocking calls ran side by side
        self.assertLess(elapsed, 1.2)         # 16 x 0.1 s serially would be 1.6 s

    def test_handler_errors_do_not_kill_workers(self):
        served = []

        def flaky(request):
            if request % 2:
                raise RuntimeError('app bug')
            served.append(request)

        import logging
        logger = logging.getLogger('portico.error')
        logger.disabled = True
        try:
            self.run_pool(range(20), flaky, 2)
        finally:
            logger.disabled = False
        self.assertEqual(sorted(served), list(range(0, 20, 2)))

    def test_single_thread(self):
        served = []
        self.run_pool(range(50), served.append, 1)
        self.assertEqual(served, list(range(50)))

    def test_detached_thread_is_replaced_and_retires(self):
        """A handler that detaches (as accepting a WebSocket does) and then
        blocks does not take a worker away: with one thread, the requests
        after it are served while it blocks; it exits once it returns."""
        release = threading.Event()
        served = []
        holder = []
        pools = []

        def handler(request):
            if request == 'ws':
                holder.append(threading.current_thread())
                pools[0].detach()
                release.wait(10)
            served.append(request)

        server = FakeServer(['ws', 1, 2, 3])
        pool = WorkerPool(server, handler, 1)
        pools.append(pool)
        pool.start()
        deadline = time.time() + 10
        while len(served) < 3 and time.time() < deadline:
            time.sleep(0.01)
        self.assertEqual(served, [1, 2, 3])  # while 'ws' still blocks
        self.assertEqual(server.most_inside, 1)
        release.set()
        self.assertTrue(pool.join(10))
        self.assertEqual(served, [1, 2, 3, 'ws'])
        self.assertFalse(holder[0].is_alive())
        self.assertNotIn(holder[0], pool.threads)

    def test_threads_must_be_positive(self):
        self.assertRaises(ValueError, WorkerPool, FakeServer([]), None, 0)


if __name__ == '__main__':
    unittest.main()
