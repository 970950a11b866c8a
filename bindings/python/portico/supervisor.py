"""`portico serve --workers N`: a supervisor process and N worker processes.

The Go runtime inside libportico does not survive fork(), so the supervisor
never loads the library (nor imports the app): it opens the listening sockets,
then starts each worker as a fresh interpreter (`python -m portico serve ...`)
that inherits them and passes them to the library as fd://N. All workers
accept from the same kernel queue, and the supervisor keeps its copy of each
socket open for as long as it runs, so replacing a worker never refuses a
connection: what the old one stops accepting, the others (or the new one) do.

Signals to the supervisor:
  SIGTERM, SIGINT  graceful stop: every worker drains (up to --graceful-timeout),
                   then is killed; the supervisor exits when all are gone
  SIGHUP           rolling replacement: one at a time, a new worker starts, and
                   once it accepts, the old one drains and exits
  SIGQUIT          immediate stop: workers are killed
A worker that dies is started again (after a pause if it lived under a second).
Workers run in their own process group, so a terminal's Ctrl-C reaches only the
supervisor, which tells each worker once. Each worker also stops gracefully if
the supervisor disappears.

Systemd socket activation: with no --bind, the sockets systemd passed
(LISTEN_FDS, LISTEN_PID) are served.
"""

from __future__ import print_function

import errno
import fcntl
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time

log = logging.getLogger('portico.error')

SD_LISTEN_FDS_START = 3
READY_TIMEOUT = 30.0     # seconds a new worker may take to import the app and listen
KILL_MARGIN = 5.0        # seconds past --graceful-timeout before workers are killed
QUICK_DEATH = 1.0        # a worker dying younger than this is restarted after a pause
RESPAWN_PAUSE = 1.0
TICK = 0.1
BACKLOG = 2048
DEFAULT_GRACEFUL_TIMEOUT = 30.0
_now = getattr(time, 'monotonic', time.time)


def systemd_fds(environ=None, unset=True):
    """The listening descriptors systemd passed to this process (socket
    activation), or []. LISTEN_* are removed so that children do not take
    them for their own."""
    environ = os.environ if environ is None else environ
    try:
        pid = int(environ.get('LISTEN_PID', ''))
        count = int(environ.get('LISTEN_FDS', ''))
    except ValueError:
        return []
    if unset:
        for name in ('LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'):
            environ.pop(name, None)
    if pid != os.getpid() or count < 1:
        return []
    return list(range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + count))


def _set_cloexec(fd, on):
    flags = fcntl.fcntl(fd, fcntl.F_GETFD)
    flags = (flags | fcntl.FD_CLOEXEC) if on else (flags & ~fcntl.FD_CLOEXEC)
    fcntl.fcntl(fd, fcntl.F_SETFD, flags)


class Listener(object):
    """One listening socket the supervisor owns (or was given), and how a
    worker names it: fd://N, or https://fd://N for TLS."""

    def __init__(self, fd, tls, display, sock=None, unix_path=None):
        self.fd = fd
        self.tls = tls
        self.display = display
        self.sock = sock            # None for descriptors we were handed
        self.unix_path = unix_path  # removed on exit when we created it

    def worker_bind(self):
        return ('https://fd://%d' if self.tls else 'fd://%d') % self.fd

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            if self.unix_path:
                try:
                    os.unlink(self.unix_path)
                except OSError:
                    pass


def open_listener(bind, tls_default):
    """A Listener for one --bind value (HOST:PORT, http://, https://, unix:, fd://)."""
    if bind.startswith('fd://'):
        fd = int(bind[len('fd://'):])
        os.fstat(fd)  # EBADF here rather than in every worker
        return Listener(fd, False, bind)
    if bind.startswith('unix:'):
        path = bind[len('unix:'):]
        if os.path.exists(path):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except socket.error:
                os.unlink(path)  # stale: nobody answers on it
            else:
                raise socket.error(errno.EADDRINUSE, 'another server is using %s' % path)
            finally:
                probe.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        sock.listen(BACKLOG)
        return _owned(sock, False, 'unix:' + path, path)
    tls = tls_default
    address = bind
    if bind.startswith('https://'):
        tls, address = True, bind[len('https://'):]
    elif bind.startswith('http://'):
        tls, address = False, bind[len('http://'):]
    host, _, port = address.rpartition(':')
    if not host or not port.isdigit():
        raise ValueError('want HOST:PORT, unix:PATH or fd://N, not %r' % bind)
    host = host.strip('[]')
    family, kind, proto, _, sockaddr = socket.getaddrinfo(
        host, int(port), 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(sockaddr)
    sock.listen(BACKLOG)
    bound = sock.getsockname()
    shown = ('[%s]:%d' if family == socket.AF_INET6 else '%s:%d') % (bound[0], bound[1])
    return _owned(sock, tls, ('https://' if tls else 'http://') + shown)


def _owned(sock, tls, display, unix_path=None):
    _set_cloexec(sock.fileno(), True)  # inherited only by the workers, explicitly
    return Listener(sock.fileno(), tls, display, sock, unix_path)


class Worker(object):

    def __init__(self, process, ready_fd, number):
        self.process = process
        self.pid = process.pid
        self.ready_fd = ready_fd   # read end; the worker writes once it accepts
        self.number = number
        self.started = _now()
        self.ready = False
        self.retiring = False      # told to stop (SIGHUP replacement or shutdown)
        self.replaces = None       # the Worker it will replace once ready (SIGHUP)

    def close_pipe(self):
        if self.ready_fd is not None:
            os.close(self.ready_fd)
            self.ready_fd = None


class Supervisor(object):

    def __init__(self, worker_argv, listeners, count, graceful_timeout=None,
                 name='app', threads=None):
        self.worker_argv = list(worker_argv)  # the serve arguments, without binds/--workers
        self.listeners = listeners
        self.count = count
        self.graceful_timeout = (DEFAULT_GRACEFUL_TIMEOUT if graceful_timeout is None
                                 else graceful_timeout)
        self.name = name
        self.threads = threads
        self.workers = []
        self.numbers = 0
        self.stop_requested = None    # None, 'graceful' or 'now'
        self.reload_requested = False
        self.roll = []                # workers still to replace (SIGHUP)
        self.respawn_at = 0.0
        self.announced = False
        self.exit_code = 0

    # -- signals: handlers only set flags; the loop acts on them
    def install_signals(self):
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGQUIT, self._on_quit)
        signal.signal(signal.SIGHUP, self._on_hup)

    def _on_stop(self, signum, frame):
        if self.stop_requested is None:
            self.stop_requested = 'graceful'
        elif signum == signal.SIGINT:
            self.stop_requested = 'now'  # a second Ctrl-C

    def _on_quit(self, signum, frame):
        self.stop_requested = 'now'

    def _on_hup(self, signum, frame):
        self.reload_requested = True

    # -- workers
    def spawn(self):
        self.numbers += 1
        read_fd, write_fd = os.pipe()
        _set_cloexec(read_fd, True)
        fds = [l.fd for l in self.listeners] + [write_fd]
        argv = [sys.executable, '-m', 'portico', 'serve'] + self.worker_argv + [
            '--worker-binds', ','.join(l.worker_bind() for l in self.listeners),
            '--worker-ready-fd', str(write_fd), '--worker-parent', str(os.getpid())]
        env = dict(os.environ)
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env['PYTHONPATH'] = os.pathsep.join(
            [package_root] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])

        def in_child():
            os.setpgrp()  # Ctrl-C in a terminal reaches the supervisor only
            for fd in fds:
                _set_cloexec(fd, False)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # HUP is for the supervisor

        kwargs = {'env': env, 'preexec_fn': in_child, 'close_fds': False}
        if sys.version_info[0] >= 3:
            kwargs['close_fds'] = True
            kwargs['pass_fds'] = fds
        try:
            process = subprocess.Popen(argv, **kwargs)
        finally:
            os.close(write_fd)
        worker = Worker(process, read_fd, self.numbers)
        self.workers.append(worker)
        return worker

    def signal_worker(self, worker, signum):
        try:
            os.kill(worker.pid, signum)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise

    def retire(self, worker):
        if not worker.retiring:
            worker.retiring = True
            self.signal_worker(worker, signal.SIGTERM)

    def active(self):
        return [w for w in self.workers if not w.retiring and w.replaces is None]

    def _check_ready(self, timeout):
        pending = [w for w in self.workers if w.ready_fd is not None]
        if not pending:
            time.sleep(timeout)
            return
        try:
            readable, _, _ = select.select([w.ready_fd for w in pending], [], [], timeout)
        except (select.error, OSError) as exc:
            if exc.args[0] == errno.EINTR:
                return
            raise
        for worker in pending:
            if worker.ready_fd in readable:
                data = os.read(worker.ready_fd, 16)
                worker.close_pipe()
                if data:
                    worker.ready = True
                    self._on_ready(worker)

    def _on_ready(self, worker):
        old = worker.replaces
        if old is not None:
            worker.replaces = None
            log.info('worker %d (pid %d) ready; stopping worker %d (pid %d)',
                     worker.number, worker.pid, old.number, old.pid)
            self.retire(old)
        if not self.announced and all(w.ready for w in self.active()) \
                and len(self.active()) == self.count:
            self.announced = True
            sys.stderr.write('portico: serving %s on %s (threads %s) with %d workers, '
                             'supervisor pid %d\n' % (
                                 self.name, ', '.join(l.display for l in self.listeners),
                                 self.threads, self.count, os.getpid()))
            sys.stderr.flush()

    def _reap(self):
        for worker in list(self.workers):
            code = worker.process.poll()
            if code is None:
                continue
            self.workers.remove(worker)
            worker.close_pipe()
            if self.roll and worker in self.roll:
                self.roll.remove(worker)
            for other in self.workers:
                if other.replaces is worker:
                    other.replaces = None  # it takes the dead one's place now
            if worker.retiring or self.stop_requested:
                continue
            if worker.replaces is not None:
                log.error('replacement worker %d (pid %d) exited with %s before accepting; '
                          'keeping the old workers', worker.number, worker.pid, code)
                self.roll = []
                continue
            if not self.announced and not worker.ready:
                # It never came up during startup: the app or the options are
                # wrong, and restarting would only loop.
                log.error('worker %d (pid %d) exited with %s before accepting; stopping',
                          worker.number, worker.pid, code)
                self.exit_code = code if code > 0 else 1
                self.stop_requested = 'graceful'
                continue
            log.warning('worker %d (pid %d) exited with %s; starting another',
                        worker.number, worker.pid, code)
            if _now() - worker.started < QUICK_DEATH:
                self.respawn_at = _now() + RESPAWN_PAUSE

    def _maintain(self):
        """Keep COUNT workers, and carry a rolling replacement one step on."""
        if self.reload_requested:
            self.reload_requested = False
            self.roll = [w for w in self.workers if not w.retiring and w.replaces is None]
            log.info('SIGHUP: replacing %d workers one at a time', len(self.roll))
        serving = [w for w in self.workers if not w.retiring and w.replaces is None]
        missing = self.count - len(serving) - len(
            [w for w in self.workers if w.replaces is not None])
        if missing > 0 and _now() >= self.respawn_at:
            for _ in range(missing):
                self.spawn()
        elif self.roll and not any(w.replaces is not None for w in self.workers):
            old = self.roll.pop(0)
            if old in self.workers and not old.retiring:
                new = self.spawn()
                new.replaces = old

    def run(self):
        self.install_signals()
        for _ in range(self.count):
            self.spawn()
        while True:
            if self.stop_requested:
                break
            self._check_ready(TICK)
            self._reap()
            if not self.stop_requested:
                self._maintain()
            for worker in self.workers:
                if worker.replaces is not None and not worker.ready \
                        and _now() - worker.started > READY_TIMEOUT:
                    log.error('replacement worker %d (pid %d) not ready after %ds; '
                              'stopping it', worker.number, worker.pid, READY_TIMEOUT)
                    worker.replaces = None
                    self.retire(worker)
                    self.roll = []
        self.shutdown()
        return self.exit_code

    def shutdown(self):
        # Our copies of the sockets go now: once every worker has closed its
        # own, the kernel refuses new connections instead of queueing them.
        for listener in self.listeners:
            listener.close()
        if self.stop_requested == 'now':
            self._kill_all()
            return
        for worker in self.workers:
            self.retire(worker)
        deadline = _now() + self.graceful_timeout + KILL_MARGIN
        while self.workers and _now() < deadline:
            if self.stop_requested == 'now':
                break
            time.sleep(TICK)
            for worker in list(self.workers):
                if worker.process.poll() is not None:
                    worker.close_pipe()
                    self.workers.remove(worker)
        if self.workers:
            log.error('%d workers still running after the graceful timeout; killing them',
                      len(self.workers))
        self._kill_all()

    def _kill_all(self):
        for worker in self.workers:
            self.signal_worker(worker, signal.SIGKILL)
        for worker in self.workers:
            worker.process.wait()
            worker.close_pipe()
        self.workers = []


def supervise(worker_argv, binds, count, tls_default=False, graceful_timeout=None,
              name='app', threads=None):
    """Open BINDS here, run COUNT workers on them until a stop signal; the exit code."""
    listeners = []
    try:
        for bind in binds:
            listeners.append(open_listener(bind, tls_default))
    except (socket.error, OSError, ValueError) as exc:
        for listener in listeners:
            listener.close()
        sys.stderr.write('portico: cannot listen on %s: %s\n' % (bind, exc))
        return 1
    from .serving import configure_logging  # imports no library: this stays fork-clean
    configure_logging()
    supervisor = Supervisor(worker_argv, listeners, count, graceful_timeout, name, threads)
    return supervisor.run()
