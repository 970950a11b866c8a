"""Deliberate overflows that the sanitizer step must catch: proof that the
Python processes run with AddressSanitizer's runtime and that the library
is instrumented. run.sh expects each mode to end in an AddressSanitizer
report; printing "not caught" means the step checks nothing.

  decoder  capi/pyaccel.c reads past the end of a poll batch (C, via the
           ASGI binding's decode builtin)
  library  the library writes its address past the end of a buffer (Go,
           instrumented by go build -asan)
"""

import ctypes
import struct
import sys

from portico import _lib, asgi

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
lib = _lib.load()
mode = sys.argv[1]
if mode == 'decoder':
    accel = asgi.accelerator(lib)
    head = struct.pack('<QHhI', 1, asgi.EV_WRITTEN, 0, 0)  # one event, no payload
    batch = libc.malloc(len(head))
    ctypes.memmove(batch, head, len(head))
    accel.decode(batch, 2 * len(head), [], {}, '')  # a second event claimed past the end
elif mode == 'library':
    from portico.server import Server
    server = Server({})
    server.listen('127.0.0.1:0')
    buf = libc.malloc(4)
    lib.portico_server_address(server._handle, 0, buf, 64)  # 64 claimed, 4 real
print('not caught: %s' % mode)
