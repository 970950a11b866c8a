"""Packaging for the portico binding. The wheel carries libportico.so inside
the package (copy build/libportico.so to portico/ first; `make wheel` does)."""

import os

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    with open(os.path.join(HERE, 'portico', '__init__.py')) as source:
        for line in source:
            if line.startswith('__version__'):
                return line.split('=')[1].strip().strip("'\"")
    raise RuntimeError('no __version__ in portico/__init__.py')


setup(
    name='portico',
    version=read_version(),
    description='HTTP/1.x, HTTP/2 and WebSocket for Python web apps, on a Go engine',
    packages=['portico'],
    package_data={'portico': ['libportico.so']},
    entry_points={'console_scripts': ['portico = portico.cli:main']},
    python_requires='>=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*, !=3.4.*, !=3.5.*',
    zip_safe=False,  # ctypes loads the .so from a real path
    classifiers=[
        'Programming Language :: Python :: 2.7',
        'Programming Language :: Python :: 3',
        'Topic :: Internet :: WWW/HTTP :: WSGI :: Server',
    ],
)
