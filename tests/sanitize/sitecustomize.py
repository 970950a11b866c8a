"""Python processes of the sanitizer step (tests/sanitize/run.sh) get
AddressSanitizer's runtime loaded first, as it must be; the tools the tests
start (curl, nghttp, node) do not: curl hangs with it preloaded. So the
preload is in PORTICO_SANITIZE_PRELOAD, not LD_PRELOAD, for the children:
a Python started without it starts itself again with it."""

import os

preload = os.environ.get('PORTICO_SANITIZE_PRELOAD')
if preload:
    with open('/proc/self/maps') as maps:
        loaded = os.path.realpath(preload) in maps.read()
    if not loaded:
        with open('/proc/self/cmdline', 'rb') as cmdline:
            argv = cmdline.read().split(b'\0')[:-1]
        env = dict(os.environ, LD_PRELOAD=preload)
        os.execve('/proc/self/exe', argv, env)
    os.environ.pop('LD_PRELOAD', None)
