"""serve(): a Server, its listeners, a WorkerPool and a WSGIHandler put
together, run until SIGINT or SIGTERM, then shut down gracefully."""

from __future__ import print_function

import logging
import logging.handlers
import os
import signal
import sys
import threading

from ._compat import text_type
from .server import Server
from .websocket import DEFAULT_MAX_WEBSOCKETS
from .workers import WorkerPool
from .wsgi import WSGIHandler

DEFAULT_BIND = '127.0.0.1:8000'
DEFAULT_THREADS = 8
GRACEFUL_TIMEOUT_MS = 30000   # the library's default, mirrored for the join below
SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)

log = logging.getLogger('portico.error')


def configure_logging():
    """Send portico's error and access logs to stderr unless the host process
    already configured logging."""
    logger = logging.getLogger('portico')
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter('[portico] %(message)s'))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def configure_access_log(path=None):
    """Access lines go bare (no prefix) to PATH, or stderr for None or '-',
    unless the host process gave 'portico.access' a handler of its own."""
    logger = logging.getLogger('portico.access')
    logger.setLevel(logging.INFO)
    if logger.handlers:
        return
    if path and path != '-':
        handler = logging.handlers.WatchedFileHandler(path)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter('%(message)s'))
    logger.addHandler(handler)
    logger.propagate = False


def display_url(address, scheme='http'):
    """ADDRESS as a URL: the library names TLS listeners https://HOST:PORT."""
    if address.startswith('unix:') or '://' in address:
        return address
    return '%s://%s' % (scheme, address)


class ShutdownRequest(object):
    """Turns SIGINT/SIGTERM into an Event the main thread waits on. A second
    signal while shutting down exits at once."""

    def __init__(self):
        self.event = threading.Event()
        self.previous = {}

    def install(self):
        if threading.current_thread().name != 'MainThread':
            return  # signal.signal only works there; the caller stops us instead
        for signum in SHUTDOWN_SIGNALS:
            self.previous[signum] = signal.signal(signum, self._on_signal)

    def restore(self):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous = {}

    def _on_signal(self, signum, frame):
        if self.event.is_set():
            sys.stderr.write('portico: second signal, exiting now\n')
            sys.stderr.flush()
            os._exit(1)
        self.event.set()

    def wait(self, still_running):
        # Wait in short slices: the main thread must keep running Python code
        # for signal handlers to run (on 2.7 a bare wait() is not interruptible).
        while not self.event.is_set() and still_running():
            self.event.wait(0.25)


def serve(app, bind=DEFAULT_BIND, threads=DEFAULT_THREADS, options=None,
          access_log=False, name=None, stop=None, on_ready=None,
          max_websockets=DEFAULT_MAX_WEBSOCKETS, websocket_stack_size=None,
          access_log_file=None):
    """Serve the WSGI APP on BIND (an address or a list of them) until SIGINT
    or SIGTERM (or until the `stop` threading.Event is set), then drain.
    OPTIONS are libportico options (portico.h names). ON_READY, if given, is
    called with the list of bound addresses once the server accepts.

    THREADS serve plain requests; each accepted WebSocket runs on a thread of
    its own beyond them, up to MAX_WEBSOCKETS at once (more are answered 503).
    WEBSOCKET_STACK_SIZE (bytes) sets the stack of the threads started for
    that (None: the platform's default).

    ACCESS_LOG: False (off: no per-request cost), True or 'combined', or
    'common'; the lines go to ACCESS_LOG_FILE (None or '-': stderr)."""
    configure_logging()
    if access_log:
        configure_access_log(access_log_file)
    binds = [bind] if isinstance(bind, (str, text_type)) else list(bind)
    options = dict(options or {})
    options.setdefault('report_answers', 1)  # WSGIHandler logs them
    # The library caps the HTTP/2 streams of one connection that hold a
    # worker at once (max_worker_streams) from the pool's size.
    options.setdefault('worker_threads', threads)
    server = Server(options)
    shutdown_request = ShutdownRequest()
    if stop is not None:
        shutdown_request.event = stop
    try:
        addresses = [server.listen(address) for address in binds]
        handler = WSGIHandler(app, log_access=access_log, max_websockets=max_websockets)
        pool = WorkerPool(server, handler, threads)
        pool.stack_size = websocket_stack_size
        handler.websockets.on_accept = pool.detach
        shutdown_request.install()
        pool.start()
        if on_ready is not None:
            on_ready(addresses)
        else:
            sys.stderr.write('portico: serving %s on %s (threads %d)\n' % (
                name or getattr(app, '__name__', 'app'),
                ', '.join(display_url(a) for a in addresses), threads))
            sys.stderr.flush()
        shutdown_request.wait(pool.alive)

        # Shut down from a helper thread, so the main thread stays in Python
        # and a second Ctrl-C still works while in-flight requests drain.
        stopper = threading.Thread(target=server.shutdown, name='portico-shutdown')
        stopper.daemon = True
        stopper.start()
        while stopper.is_alive():
            stopper.join(0.25)
        graceful_s = int(options.get('graceful_timeout_ms', GRACEFUL_TIMEOUT_MS)) / 1000.0
        if not pool.join(graceful_s + 5):
            log.error('workers still busy after shutdown; exiting without them')
            pool.stop()
    finally:
        shutdown_request.restore()
        server.close()
