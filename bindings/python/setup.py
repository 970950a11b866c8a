"""Packaging for the portico binding: one wheel for Python 2.7 and 3.x.

The wheel carries libportico.so inside the package, so it is tagged
py2.py3-none-PLATFORM: no Python ABI (ctypes loads the library), but a
platform one. PLATFORM defaults to manylinux_2_34_x86_64: the library needs
only libc.so.6 with symbol versions up to GLIBC_2.34 on x86_64 (scripts/
build_wheel.sh checks that before building). Override with PORTICO_PLAT_NAME.

The sdist (built by `make wheel` in a staging tree) holds the Go sources under
go/: building a wheel from it compiles libportico.so with `go build` when the
package does not already hold one.
"""

import os
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

try:
    from wheel.bdist_wheel import bdist_wheel
except ImportError:  # no wheel package: sdist and plain installs still work
    bdist_wheel = None

HERE = os.path.dirname(os.path.abspath(__file__))
LIBRARY = os.path.join('portico', 'libportico.so')
PLATFORM = os.environ.get('PORTICO_PLAT_NAME', 'manylinux_2_34_x86_64')


def read_version():
    with open(os.path.join(HERE, 'portico', '__init__.py')) as source:
        for line in source:
            if line.startswith('__version__'):
                return line.split('=')[1].strip().strip("'\"")
    raise RuntimeError('no __version__ in portico/__init__.py')


class BuildPy(build_py):
    """Compile libportico.so from the bundled Go sources when it is missing."""

    def run(self):
        target = os.path.join(HERE, LIBRARY)
        go_tree = os.path.join(HERE, 'go')
        if not os.path.exists(target):
            if not os.path.isdir(go_tree):
                raise SystemExit('portico: %s is missing and there are no Go sources '
                                 'to build it (run `make wheel` in the checkout)' % target)
            env = dict(os.environ, GOFLAGS='-mod=mod', CGO_ENABLED='1')
            subprocess.check_call(
                ['go', 'build', '-buildmode=c-shared', '-trimpath',
                 '-ldflags=-s -w -extldflags=-Wl,-soname,libportico.so.0',
                 '-o', target, './capi'], cwd=go_tree, env=env)
            header = os.path.splitext(target)[0] + '.h'
            if os.path.exists(header):
                os.remove(header)  # cgo's generated header; include/portico.h is the contract
        build_py.run(self)


commands = {'build_py': BuildPy}

if bdist_wheel is not None:
    class BdistWheel(bdist_wheel):
        """py2.py3-none-PLATFORM, and not purelib: it holds a shared library."""

        def finalize_options(self):
            bdist_wheel.finalize_options(self)
            self.root_is_pure = False

        def get_tag(self):
            return 'py2.py3', 'none', PLATFORM

    commands['bdist_wheel'] = BdistWheel


def read(name):
    path = os.path.join(HERE, name)
    if not os.path.exists(path):
        return ''
    with open(path) as source:
        return source.read()


setup(
    name='portico',
    version=read_version(),
    description='HTTP/1.x, HTTP/2 and WebSocket for Python web apps, on a Go engine',
    long_description=read('README.md'),
    long_description_content_type='text/markdown',
    license='MIT',
    url='https://github.com/portico-http/portico',
    packages=['portico'],
    package_data={'portico': ['libportico.so']},
    entry_points={'console_scripts': ['portico = portico.cli:main']},
    cmdclass=commands,
    python_requires='>=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*, !=3.4.*, !=3.5.*',
    zip_safe=False,  # ctypes loads the .so from a real path
    classifiers=[
        'License :: OSI Approved :: MIT License',
        'Operating System :: POSIX :: Linux',
        'Programming Language :: Python :: 2.7',
        'Programming Language :: Python :: 3',
        'Topic :: Internet :: WWW/HTTP :: WSGI :: Server',
    ],
)
