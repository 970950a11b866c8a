"""The command line: `portico serve MODULE:APP [options]`."""

from __future__ import print_function

import argparse
import importlib
import inspect
import os
import signal
import sys
import threading

from . import __version__
from .errors import PorticoError
from .serving import DEFAULT_BIND, DEFAULT_THREADS, serve
from .supervisor import supervise, systemd_fds
from .websocket import DEFAULT_MAX_WEBSOCKETS

APP_NAMES = ('application', 'app')  # tried in order when MODULE:APP has no APP


class UsageError(Exception):
    """A mistake on the command line, reported without a traceback."""


def build_parser():
    parser = argparse.ArgumentParser(prog='portico', description='Portico: HTTP/1.x, HTTP/2 and WebSocket for Python web apps.')
    parser.add_argument('--version', action='version', version='portico ' + __version__)
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    commands.required = True
    run = commands.add_parser('serve', help='serve a WSGI or ASGI application')
    run.add_argument('app', metavar='MODULE:APP',
                     help='the application; APP defaults to "application", then "app"')
    run.add_argument('--bind', '-b', action='append', metavar='HOST:PORT|unix:PATH',
                     help='address to listen on (repeatable; default %s). With --certfile a '
                          'HOST:PORT bind is TLS; http://HOST:PORT and https://HOST:PORT choose '
                          'explicitly; fd://N takes an inherited socket' % DEFAULT_BIND)
    run.add_argument('--certfile', metavar='FILE',
                     help='PEM certificate (chain) for TLS; HTTP/2 is offered by ALPN')
    run.add_argument('--keyfile', metavar='FILE', help='PEM private key for --certfile')
    run.add_argument('--ca-certs', metavar='FILE',
                     help='PEM CA certificates that client certificates must chain to')
    run.add_argument('--verify-client', choices=('none', 'optional', 'required'),
                     help='client certificates (needs --ca-certs): "optional" verifies one '
                     'if sent, "required" refuses clients without a valid one (default none)')
    run.add_argument('--ws-ping-interval', type=seconds, metavar='S',
                     help='ping a quiet WebSocket every S seconds (default 20; 0: never)')
    run.add_argument('--ws-ping-timeout', type=seconds, metavar='S',
                     help='close a WebSocket silent S seconds past a ping with 1011 (default 20)')
    run.add_argument('--no-h2c-upgrade', action='store_true',
                     help='ignore "Upgrade: h2c" (HTTP/2 with prior knowledge and TLS still work)')
    run.add_argument('--no-inline-io', action='store_true',
                     help='serve cleartext HTTP/1.1 from library threads instead of the '
                          'pulling thread (a way out should inline I/O misbehave)')
    run.add_argument('--interface', choices=('auto', 'wsgi', 'asgi'), default='auto',
                     help='application interface (default: auto)')
    run.add_argument('--lifespan', choices=('auto', 'on', 'off'), default='auto',
                     help='ASGI lifespan events: auto (if the app takes them), on (a failure '
                     'to start is fatal), off')
    run.add_argument('--loop', choices=('asyncio', 'uvloop', 'auto'), default='asyncio',
                     help='ASGI event loop (auto: uvloop when installed; default asyncio)')
    run.add_argument('--threads', type=positive_int, default=DEFAULT_THREADS,
                     help='worker threads (default %d)' % DEFAULT_THREADS)
    run.add_argument('--workers', type=non_negative_int, default=0, metavar='N',
                     help='run N worker processes under a supervisor that shares the '
                     'listening sockets with them (SIGTERM/SIGINT: drain; SIGHUP: replace '
                     'them one by one; SIGQUIT: stop at once). Default 0: serve in this process')
    # Set by the supervisor on the workers it starts; not for people.
    run.add_argument('--worker-binds', help=argparse.SUPPRESS)
    run.add_argument('--worker-ready-fd', type=int, help=argparse.SUPPRESS)
    run.add_argument('--worker-parent', type=int, help=argparse.SUPPRESS)
    run.add_argument('--access-log', action='store_true',
                     help='log every request to stderr, one line each: the combined log '
                     'format (with the protocol, HTTP/1.1 or HTTP/2.0) plus the response '
                     'time in seconds')
    run.add_argument('--access-log-file', metavar='FILE',
                     help='log every request to FILE instead ("-": stderr); implies '
                     '--access-log. Reopened when logrotate moves it')
    run.add_argument('--access-log-format', choices=('combined', 'common'), default='combined',
                     help='combined (default) or common (no Referer or User-Agent)')
    run.add_argument('--graceful-timeout', type=seconds, metavar='S',
                     help='on SIGTERM, wait this long for in-flight requests (default 30)')
    run.add_argument('--max-body-size', type=non_negative_int, metavar='N',
                     help='refuse bodies over N bytes with 413 (default 0: unlimited)')
    run.add_argument('--max-head-size', type=positive_int, metavar='N',
                     help='refuse request heads over N bytes with 431 (default 65536)')
    run.add_argument('--header-timeout', type=seconds, metavar='S',
                     help='time allowed to send a request head (default 10)')
    run.add_argument('--request-timeout', type=seconds, metavar='S',
                     help='answer 503 (or cut a started response) when the app has not '
                          'finished a request S seconds after it arrived (default 0: never)')
    run.add_argument('--body-timeout', type=seconds, metavar='S',
                     help='end a request whose body brings no byte for S seconds (408, or '
                          'RST_STREAM on HTTP/2), and a response write stalled as long (default 30)')
    run.add_argument('--min-body-rate', type=non_negative_int, metavar='BYTES',
                     help='end a request whose body comes slower than BYTES per second on '
                          'average, once the grace is over (default 240; 0: off)')
    run.add_argument('--min-body-rate-grace', type=seconds, metavar='S',
                     help='time a request body may take before --min-body-rate applies '
                          '(default 5)')
    run.add_argument('--max-worker-streams', type=non_negative_int, metavar='N',
                     help='HTTP/2 streams of one connection handed to the app at once; more '
                          'wait, holding no thread (default 0: half of --threads, at least 1; '
                          'no cap under ASGI)')
    run.add_argument('--keepalive-timeout', type=seconds, metavar='S',
                     help='idle time before a kept-alive connection closes (default 5)')
    run.add_argument('--max-websockets', type=non_negative_int, metavar='N',
                     default=DEFAULT_MAX_WEBSOCKETS,
                     help='open WebSockets at most, each on a thread beyond --threads; '
                     'handshakes past it are answered 503 (default %d)' % DEFAULT_MAX_WEBSOCKETS)
    run.add_argument('--websocket-stack-size', type=positive_int, metavar='KIB',
                     help='stack size of the threads started for WebSockets, in KiB '
                     '(default: the platform\'s, usually 8192; RSS grows only with use)')
    run.add_argument('--ws-max-message-size', type=positive_int, metavar='N',
                     help='close a WebSocket with 1009 on a message over N bytes '
                     '(default 16777216)')
    run.add_argument('--ws-max-queued', type=positive_int, metavar='N',
                     help='close a WebSocket with 1008 and drop its connection when over N '
                     'bytes (pongs included) wait for a client that does not read them '
                     '(default 4194304)')
    return parser


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError('must be at least 1')
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError('must not be negative')
    return value


def seconds(text):
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError('must not be negative')
    return value


def library_options(args):
    """The portico.h options that the command line sets."""
    options = {}
    for flag, name in (('graceful_timeout', 'graceful_timeout_ms'),
                       ('ws_ping_interval', 'ws_ping_interval_ms'),
                       ('ws_ping_timeout', 'ws_ping_timeout_ms'),
                       ('header_timeout', 'header_timeout_ms'),
                       ('request_timeout', 'request_timeout_ms'),
                       ('body_timeout', 'body_timeout_ms'),
                       ('min_body_rate_grace', 'min_body_rate_grace_ms'),
                       ('keepalive_timeout', 'keepalive_timeout_ms')):
        value = getattr(args, flag)
        if value is not None:
            options[name] = int(round(value * 1000))
    if args.max_body_size is not None:
        options['max_body_size'] = args.max_body_size
    if args.max_head_size is not None:
        options['max_head_size'] = args.max_head_size
    if args.min_body_rate is not None:
        options['min_body_rate'] = args.min_body_rate
    if args.max_worker_streams is not None:
        options['max_worker_streams'] = args.max_worker_streams
    if args.ws_max_message_size is not None:
        options['ws_max_message_size'] = args.ws_max_message_size
    if args.ws_max_queued is not None:
        options['ws_max_queued'] = args.ws_max_queued
    if bool(args.certfile) != bool(args.keyfile):
        raise UsageError('--certfile and --keyfile go together')
    if args.certfile:
        for path in (args.certfile, args.keyfile):
            if not os.path.isfile(path):
                raise UsageError('no such file: %s' % path)
        options['certfile'] = os.path.abspath(args.certfile)
        options['keyfile'] = os.path.abspath(args.keyfile)
    if args.ca_certs:
        if not args.certfile:
            raise UsageError('--ca-certs needs --certfile and --keyfile')
        if not os.path.isfile(args.ca_certs):
            raise UsageError('no such file: %s' % args.ca_certs)
        options['ca_certs'] = os.path.abspath(args.ca_certs)
    if args.verify_client and args.verify_client != 'none':
        if not args.ca_certs:
            raise UsageError('--verify-client %s needs --ca-certs' % args.verify_client)
        options['verify_client'] = args.verify_client
    if args.no_h2c_upgrade:
        options['h2c_upgrade'] = '0'
    if args.no_inline_io:
        options['inline_io'] = '0'
    return options


def load_app(spec):
    """Import MODULE from the current directory and return APP from it."""
    module_name, _, attribute = spec.partition(':')
    if not module_name:
        raise UsageError('expected MODULE:APP, got %r' % spec)
    cwd = os.getcwd()
    if cwd not in sys.path and '' not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if module_name.split('.')[0] not in str(exc):
            raise  # the module exists but an import inside it failed: show it whole
        raise UsageError('cannot import %r: %s' % (module_name, exc))
    names = [attribute] if attribute else list(APP_NAMES)
    for name in names:
        target = module
        try:
            for part in name.split('.'):
                target = getattr(target, part)
        except AttributeError:
            continue
        return target
    raise UsageError('module %r has no %s' % (module_name, ' or '.join(repr(n) for n in names)))


def looks_like_asgi(app):
    """ASGI 3: a coroutine function, or an object whose __call__ is one
    (through functools.wraps layers); anything else is served as WSGI."""
    if inspect.isclass(app):
        return False
    function = app if inspect.isfunction(app) or inspect.ismethod(app) else getattr(app, '__call__', None)
    is_coroutine = getattr(inspect, 'iscoroutinefunction', None)
    if not is_coroutine or function is None:
        return False
    while not is_coroutine(function) and getattr(function, '__wrapped__', None) is not None:
        function = function.__wrapped__
    return bool(is_coroutine(function))


def worker_hooks(args):
    """For a worker the supervisor started: a stop Event set if the
    supervisor goes away, and an on_ready that prints the banner and tells
    the supervisor this worker accepts."""
    stop = threading.Event()
    parent = args.worker_parent

    def watch_parent():
        while not stop.is_set():
            if os.getppid() != parent:
                sys.stderr.write('portico: worker %d: the supervisor is gone; stopping\n'
                                 % os.getpid())
                stop.set()
                return
            stop.wait(0.5)

    # SIGQUIT: stop at once (the supervisor's quick stop kills, but a worker
    # signalled on its own should exit too, without a core dump).
    signal.signal(signal.SIGQUIT, lambda signum, frame: os._exit(1))
    watcher = threading.Thread(target=watch_parent, name='portico-parent-watch')
    watcher.daemon = True
    watcher.start()

    def on_ready(addresses):
        sys.stderr.write('portico: worker %d serving %s on %s (threads %d)\n' % (
            os.getpid(), args.app, ', '.join(addresses), args.threads))
        sys.stderr.flush()
        if args.worker_ready_fd is not None:
            os.write(args.worker_ready_fd, b'r')
            os.close(args.worker_ready_fd)
    return stop, on_ready


def main(argv=None):
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(raw_argv)
    binds = args.bind
    if not binds and not args.worker_binds:
        binds = ['fd://%d' % fd for fd in systemd_fds()] or [DEFAULT_BIND]
    if args.workers and not args.worker_binds:
        try:
            library_options(args)  # usage errors here, not in N workers
        except UsageError as exc:
            print('portico: %s' % exc, file=sys.stderr)
            return 2
        # The supervisor: it never imports the app nor loads the library;
        # each worker gets the same arguments and the sockets as fd://N.
        return supervise(raw_argv[raw_argv.index('serve') + 1:], binds, args.workers,
                         tls_default=bool(args.certfile),
                         graceful_timeout=args.graceful_timeout, name=args.app,
                         threads=args.threads)
    stop = on_ready = None
    if args.worker_binds:
        binds = args.worker_binds.split(',')
        stop, on_ready = worker_hooks(args)
    try:
        app = load_app(args.app)
        if not callable(app):
            raise UsageError('%s is not callable' % args.app)
        if args.interface == 'asgi' or (args.interface == 'auto' and looks_like_asgi(app)):
            if sys.version_info < (3, 8):
                raise UsageError('ASGI apps need Python 3.8 or later')
            from . import asgi  # async syntax: never imported on 2.7
            return asgi.serve(app, bind=binds, options=library_options(args), name=args.app,
                              log_access=args.access_log or bool(args.access_log_file),
                              lifespan=args.lifespan, loop=args.loop,
                              on_ready=on_ready, stop=stop)
        serve(app, bind=binds, threads=args.threads, stop=stop, on_ready=on_ready,
              options=library_options(args), name=args.app,
              access_log=(args.access_log or bool(args.access_log_file)) and args.access_log_format,
              access_log_file=args.access_log_file,
              max_websockets=args.max_websockets,
              websocket_stack_size=(args.websocket_stack_size * 1024
                                    if args.websocket_stack_size else None))
    except UsageError as exc:
        print('portico: %s' % exc, file=sys.stderr)
        return 2
    except PorticoError as exc:
        print('portico: %s' % exc, file=sys.stderr)
        return 1
    return 0
