"""Locating and loading libportico.so with ctypes, lazily.

The Go runtime inside the library does not survive fork(), so nothing here runs
at import time: load() is called by the first Server made in the process that
will serve. The library is then shared by every Server of that process.
"""

import ctypes
import os
import threading

from .errors import LibraryNotFound, PorticoError, ERR_FORKED

ABI_VERSION = 1
LIBRARY_NAME = 'libportico.so'

_load_lock = threading.Lock()
_lib = None
_loaded_pid = None

_c_int = ctypes.c_int
_c_int64 = ctypes.c_int64
_c_uint64 = ctypes.c_uint64
_c_size_t = ctypes.c_size_t
_c_char_p = ctypes.c_char_p
_c_void_p = ctypes.c_void_p

# name: (restype, argtypes), one entry per function of include/portico.h.
# Buffers the library writes into are c_void_p (a ctypes array is accepted);
# buffers it only reads are c_char_p, so bytes pass without a copy.
SIGNATURES = {
    'portico_abi_version': (_c_int, []),
    'portico_version': (_c_char_p, []),
    'portico_strerror': (_c_char_p, [_c_int]),
    'portico_options_new': (_c_void_p, []),
    'portico_options_set': (_c_int, [_c_void_p, _c_char_p, _c_char_p]),
    'portico_options_free': (_c_int, [_c_void_p]),
    'portico_server_new': (_c_void_p, [_c_void_p]),
    'portico_server_listen': (_c_int, [_c_void_p, _c_char_p]),
    'portico_server_address': (_c_int, [_c_void_p, _c_int, _c_void_p, _c_size_t]),
    'portico_server_last_error': (_c_int, [_c_void_p, _c_void_p, _c_size_t]),
    'portico_server_next': (_c_int64, [_c_void_p, _c_int, _c_void_p, _c_size_t]),
    'portico_server_shutdown': (_c_int, [_c_void_p]),
    'portico_server_fd': (_c_int, [_c_void_p]),
    'portico_server_free': (_c_int, [_c_void_p]),
    'portico_request_read': (_c_int64, [_c_uint64, _c_void_p, _c_size_t, _c_int]),
    'portico_request_respond': (_c_int, [_c_uint64, _c_char_p, _c_size_t,
                                         _c_char_p, _c_size_t, _c_int]),
    'portico_request_write': (_c_int, [_c_uint64, _c_char_p, _c_size_t, _c_int]),
    'portico_request_abort': (_c_int, [_c_uint64, _c_int]),
    'portico_request_early_hints': (_c_int, [_c_uint64, _c_char_p, _c_size_t]),
    'portico_request_set_trailers': (_c_int, [_c_uint64, _c_char_p, _c_size_t]),
    'portico_request_trailers': (_c_int64, [_c_uint64, _c_void_p, _c_size_t]),
    'portico_request_push': (_c_int, [_c_uint64, _c_char_p, _c_size_t]),
    'portico_request_tls': (_c_int64, [_c_uint64, _c_void_p, _c_size_t]),
    'portico_request_websocket_accept': (_c_int, [_c_uint64, _c_char_p, _c_char_p, _c_size_t]),
    'portico_ws_recv': (_c_int64, [_c_uint64, _c_void_p, _c_size_t, _c_int,
                                   ctypes.POINTER(_c_int)]),
    'portico_ws_next_size': (_c_int64, [_c_uint64]),
    'portico_ws_send': (_c_int, [_c_uint64, _c_int, _c_char_p, _c_size_t]),
    'portico_ws_close': (_c_int, [_c_uint64, _c_int, _c_char_p]),
    'portico_ws_free': (_c_int, [_c_uint64]),
    'portico_debug_stats': (_c_int, [ctypes.POINTER(_c_int64), _c_size_t]),
    # Event mode (ASGI).
    'portico_server_poll': (_c_int64, [_c_void_p, _c_void_p, _c_size_t]),
    'portico_request_respond_nowait': (_c_int, [_c_uint64, _c_char_p, _c_size_t,
                                                _c_char_p, _c_size_t, _c_int]),
    'portico_request_write_nowait': (_c_int, [_c_uint64, _c_char_p, _c_size_t, _c_int]),
    'portico_request_want_body': (_c_int, [_c_uint64, _c_size_t]),
    'portico_request_watch_gone': (_c_int, [_c_uint64]),
    'portico_ws_watch': (_c_int, [_c_uint64, _c_int]),
    'portico_ws_send_nowait': (_c_int, [_c_uint64, _c_int, _c_char_p, _c_size_t]),
}


def candidate_paths():
    """Where the library is looked for, in order. PORTICO_LIBRARY, when set,
    is the only candidate: a wrong path there must not quietly fall back to
    some other build."""
    explicit = os.environ.get('PORTICO_LIBRARY')
    if explicit:
        return [explicit]
    paths = []
    package_dir = os.path.dirname(os.path.abspath(__file__))
    paths.append(os.path.join(package_dir, LIBRARY_NAME))
    # bindings/python/portico -> <checkout>/build
    checkout = os.path.dirname(os.path.dirname(os.path.dirname(package_dir)))
    paths.append(os.path.join(checkout, 'build', LIBRARY_NAME))
    return paths


def _declare(lib):
    for name, (restype, argtypes) in SIGNATURES.items():
        try:
            function = getattr(lib, name)
        except AttributeError:
            raise LibraryNotFound('%s does not export %s: not a libportico of ABI %d'
                                  % (lib._name, name, ABI_VERSION))
        function.restype = restype
        function.argtypes = argtypes


def _open_first(paths):
    failures = []
    for path in paths:
        if not os.path.exists(path):
            failures.append('%s (not found)' % path)
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as exc:
            failures.append('%s (%s)' % (path, exc))
    raise LibraryNotFound(
        'cannot load %s; tried:\n  %s\nBuild it with `make`, or set PORTICO_LIBRARY '
        'to its path.' % (LIBRARY_NAME, '\n  '.join(failures)))


def load():
    """The loaded library, loading it on first use (thread-safe)."""
    global _lib, _loaded_pid
    lib = _lib
    if lib is not None:
        if _loaded_pid != os.getpid():
            raise PorticoError(ERR_FORKED, 'libportico was loaded before this process '
                               'was forked; load it only in the process that serves')
        return lib
    with _load_lock:
        if _lib is None:
            lib = _open_first(candidate_paths())
            _declare(lib)
            abi = lib.portico_abi_version()
            if abi != ABI_VERSION:
                raise LibraryNotFound('%s has ABI version %d, this binding needs %d'
                                      % (lib._name, abi, ABI_VERSION))
            _loaded_pid = os.getpid()
            _lib = lib
    return _lib


def is_loaded():
    return _lib is not None


def strerror(code):
    text = load().portico_strerror(code)
    return text.decode('latin-1') if text is not None else 'error %d' % code


def error(code, detail=None):
    """A PorticoError for CODE, its message from portico_strerror (+ DETAIL)."""
    message = strerror(code)
    if detail:
        message = '%s: %s' % (message, detail)
    return PorticoError(code, message)


def check(code, detail=None):
    """Raise for a negative return value, else hand it back."""
    if code < 0:
        raise error(code, detail)
    return code


def library_version():
    return load().portico_version().decode('latin-1')
