"""WorkerPool: N threads that share one puller role (leader/follower).

Many threads all blocked in portico_server_next collapse throughput (GIL
hand-offs and Go scheduler contention, see notes/bridge-probe.md), yet a
blocking app needs many threads. So exactly one thread, the puller, may wait
in the library; the others wait on a condition.

Handing the role over on every request costs two thread switches per request
(measured: 42k req/s with 1 thread, 20k with 8 for a hello app). So there are
two modes:
- sticky (fast apps): the puller keeps the role while it runs the app; a
  monitor thread hands the role to a follower only when an app call has run
  longer than HANDOFF_AFTER. Fast apps get one thread's speed.
- eager (slow apps): the puller gives the role away as soon as it has a
  request, so N blocking calls overlap without waiting for the monitor.
The monitor's first hand-off switches to eager; FAST_STREAK app calls in a row
under HANDOFF_AFTER switch back to sticky.

A thread whose app accepts a WebSocket calls detach(): it gives up the puller
role and a replacement thread starts, so N threads stay free for plain
requests however many WebSockets are open (WebSocketSlots bounds those). When
the WebSocket's app call returns, the detached thread exits.
"""

import logging
import threading
import time

from .errors import ServerClosed

POLL_MS = 1000          # the puller looks up from the library this often to check stop()
HANDOFF_AFTER = 0.002   # seconds an app may run before a follower takes over pulling
IDLE_TICKS = 50         # monitor ticks without traffic before it slows down
IDLE_INTERVAL = 0.02    # the monitor's sleep while the server is idle
FAST_STREAK = 64        # quick app calls in a row that make the pool sticky again

log = logging.getLogger('portico.error')
_stack_size_lock = threading.Lock()
_now = getattr(time, 'monotonic', time.time)


class WorkerPool(object):

    def __init__(self, server, handler, threads):
        if threads < 1:
            raise ValueError('threads must be at least 1, not %r' % (threads,))
        self.server = server
        self.handler = handler
        self.size = threads
        self.role = threading.Condition(threading.Lock())  # guards the three below
        self.puller = None        # the thread allowed to call next(); None: vacant
        self.busy_since = 0.0     # when the puller started its current app call; 0: none
        self.followers = 0        # threads waiting for the role
        self.stopping = False     # set by stop() or once the server is drained
        self.eager = False        # hand the role over at every request (slow apps)
        self.fast_streak = 0      # app calls in a row that took under HANDOFF_AFTER
        self.threads = []
        self.detached = set()     # threads serving a WebSocket; they exit when it ends
        self.spawned = 0          # worker threads started, for their names
        self.stack_size = None    # bytes for replacement threads (None: the default)

    def start(self):
        for _ in range(self.size):
            self._spawn_worker()
        if self.size > 1:
            self._spawn(self._monitor, 'portico-handoff')

    def _spawn_worker(self, stack_size=None):
        self.spawned += 1
        self._spawn(self._work, 'portico-worker-%d' % (self.spawned - 1), stack_size)

    def _spawn(self, target, name, stack_size=None):
        thread = threading.Thread(target=target, name=name)
        thread.daemon = True  # one app stuck forever must not keep the process alive
        with self.role:
            self.threads.append(thread)
        if stack_size:
            # threading.stack_size is process-wide: set it only around this start.
            with _stack_size_lock:
                previous = threading.stack_size(stack_size)
                try:
                    thread.start()
                finally:
                    threading.stack_size(previous)
        else:
            thread.start()

    def detach(self):
        """Called by the thread running an app that has just accepted a
        WebSocket: it stops counting as a worker (and gives up the puller
        role), a replacement starts, and it exits once its app call returns."""
        me = threading.current_thread()
        with self.role:
            if me in self.detached or me not in self.threads:
                return
            self.detached.add(me)
            if self.puller is me:
                self.puller = None
                self.busy_since = 0.0
                self.role.notify()
            if self.stopping:
                return
        forget = getattr(self.server, 'forget_thread_buffer', None)
        if forget is not None:
            forget()  # this thread pulls no more requests
        self._spawn_worker(self.stack_size)

    def _retire(self, me):
        """True (and forgotten) if ME was detached: its WebSocket is over."""
        with self.role:
            if me not in self.detached:
                return False
            self.detached.discard(me)
            self.threads.remove(me)
            return True

    def _work(self):
        me = threading.current_thread()
        role = self.role
        while True:
            with role:
                self.followers += 1
                while self.puller is not None and not self.stopping:
                    role.wait()
                self.followers -= 1
                if self.stopping:
                    return
                self.puller = me
            self._pull(me)
            if self._retire(me):
                return

    def _pull(self, me):
        """Pull and serve requests while this thread holds the role."""
        pull = self.server.next
        role = self.role
        while True:
            try:
                request = pull(POLL_MS)
            except ServerClosed:
                self.stop()
                return
            except Exception:
                log.exception('pulling the next request failed; stopping the workers')
                self.stop()
                return
            if request is None:
                if self.stopping:
                    return
                continue
            if self.eager:
                with role:
                    self.puller = None
                    role.notify()
                started = _now()
                self._serve(request)
                self._count_fast(_now() - started)
                return
            self.busy_since = _now()  # only the puller sets it; the monitor clears it
            self._serve(request)
            with role:
                if self.puller is not me:  # the monitor gave the role away meanwhile
                    return
                self.busy_since = 0.0

    def _serve(self, request):
        try:
            self.handler(request)
        except BaseException:
            log.exception('unhandled error while serving %r', request)

    def _count_fast(self, duration):
        """In eager mode: back to sticky after FAST_STREAK quick calls in a row."""
        if duration < HANDOFF_AFTER:
            self.fast_streak += 1
            if self.fast_streak >= FAST_STREAK:
                self.eager = False
        else:
            self.fast_streak = 0

    def _monitor(self):
        """Give the role to a follower when the puller is stuck in an app."""
        role = self.role
        quiet = 0
        while not self.stopping:
            time.sleep(HANDOFF_AFTER if quiet < IDLE_TICKS else IDLE_INTERVAL)
            since = self.busy_since
            if not since:
                quiet += 1
                continue
            quiet = 0
            if _now() - since < HANDOFF_AFTER:
                continue
            with role:
                if self.busy_since == since and self.followers and self.puller is not None:
                    self.puller = None
                    self.busy_since = 0.0  # it described the old puller, not the next
                    self.eager = True
                    self.fast_streak = 0
                    role.notify()

    def stop(self):
        """Let every thread finish its current request and exit, without
        waiting for the server to close."""
        with self.role:
            self.stopping = True
            self.role.notify_all()

    def alive(self):
        return any(thread.is_alive() for thread in list(self.threads))

    def join(self, timeout=None):
        """Wait for the threads to exit; True if all did within TIMEOUT seconds."""
        deadline = None if timeout is None else time.time() + timeout
        for thread in list(self.threads):
            while thread.is_alive():
                left = 0.2 if deadline is None else min(0.2, deadline - time.time())
                if left <= 0:
                    return False
                thread.join(left)
        return True
