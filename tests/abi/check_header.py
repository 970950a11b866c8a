"""Prove include/portico.h and libportico.so agree.

Three sources must name the same portico_ functions with the same arity:
the hand-written header, the header cgo generated from the //export
comments (build/libportico.h), and the dynamic symbols of the library.
Usage: check_header.py include/portico.h build/libportico.h build/libportico.so
"""
import re
import subprocess
import sys

PROTO = re.compile(r'\b(portico_\w+)\s*\(([^;{]*?)\)\s*;', re.S)


def prototypes(path):
    text = open(path).read()
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'//[^\n]*', ' ', text)
    found = {}
    for name, args in PROTO.findall(text):
        args = args.strip()
        found[name] = 0 if args in ('', 'void') else args.count(',') + 1
    return found


def exported(lib):
    out = subprocess.check_output(['nm', '-D', '--defined-only', lib]).decode()
    return set(line.split()[-1] for line in out.splitlines()
               if line.split()[-1].startswith('portico_'))


def main():
    header, generated, lib = sys.argv[1:4]
    ours, cgo, syms = prototypes(header), prototypes(generated), exported(lib)
    problems = []
    for name in sorted(set(ours) | set(cgo) | syms):
        if name not in ours:
            problems.append('%s: exported by the library but not in %s' % (name, header))
        elif name not in syms:
            problems.append('%s: declared in %s but not exported' % (name, header))
        elif name not in cgo:
            problems.append('%s: no //export for it in capi' % name)
        elif ours[name] != cgo[name]:
            problems.append('%s: %d arguments in %s, %d in capi' % (name, ours[name], header, cgo[name]))
    if problems:
        print('header check FAILED:\n  ' + '\n  '.join(problems))
        return 1
    print('header check: %d functions agree (header, capi exports, .so symbols)' % len(ours))
    return 0


if __name__ == '__main__':
    sys.exit(main())
