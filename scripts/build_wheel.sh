#!/usr/bin/env bash
# make wheel: dist/portico-VERSION.tar.gz (sdist, with the Go sources) and
# dist/portico-VERSION-py2.py3-none-manylinux_2_34_x86_64.whl (the package
# plus build/libportico.so), built with Debian's python3-build, setuptools
# and wheel, offline (--no-isolation).
#
# The platform tag is checked, not assumed: the library must need no shared
# library but libc.so.6 (and the dynamic loader, ld-linux-x86-64.so.2, which
# every glibc system has: C thread-local variables bring __tls_get_addr from
# it; auditwheel allows it too) and no glibc symbol version above 2.34, on x86_64.
set -euo pipefail
CHECKOUT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB="$CHECKOUT/build/libportico.so"
DIST="$CHECKOUT/dist"
STAGE="$CHECKOUT/build/pkg"
PYTHON="${WHEEL_PYTHON:-/usr/bin/python3}"  # Debian's, where python3-build lives
GLIBC_MAX=2.34

[ -f "$LIB" ] || { echo "build_wheel: $LIB missing: run make" >&2; exit 2; }

machine="$(readelf -h "$LIB" | sed -n 's/^ *Machine: *//p')"
[ "$machine" = "Advanced Micro Devices X86-64" ] || { echo "build_wheel: not x86_64: $machine" >&2; exit 1; }
needed="$(readelf -d "$LIB" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
case "$needed" in
  "libc.so.6 "|"libc.so.6 ld-linux-x86-64.so.2 ") ;;
  *) echo "build_wheel: needs more than libc: $needed" >&2; exit 1 ;;
esac
newest="$(objdump -T "$LIB" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)"
if [ "$(printf '%s\n%s\n' "$newest" "$GLIBC_MAX" | sort -V | tail -1)" != "$GLIBC_MAX" ]; then
    echo "build_wheel: needs GLIBC_$newest, newer than the tag's $GLIBC_MAX" >&2; exit 1
fi
echo "build_wheel: x86_64, needs only libc.so.6, newest symbol GLIBC_$newest -> manylinux_2_34_x86_64"

rm -rf "$STAGE"
mkdir -p "$STAGE/go" "$DIST"
cp "$CHECKOUT/bindings/python/setup.py" "$CHECKOUT/bindings/python/MANIFEST.in" \
   "$CHECKOUT/LICENSE" "$CHECKOUT/README.md" "$STAGE/"
mkdir "$STAGE/portico"
cp "$CHECKOUT"/bindings/python/portico/*.py "$STAGE/portico/"
cp -r "$CHECKOUT/go.mod" "$CHECKOUT/go.sum" "$CHECKOUT/core" "$CHECKOUT/capi" "$CHECKOUT/include" "$STAGE/go/"
find "$STAGE/go" -name testdata -prune -o -name '*_test.go' -print | xargs rm -f

version="$(sed -n "s/^__version__ = '\(.*\)'/\1/p" "$STAGE/portico/__init__.py")"
rm -f "$DIST/portico-$version"*
(cd "$STAGE" && "$PYTHON" -m build --no-isolation --sdist --outdir "$DIST" >/dev/null)
cp "$LIB" "$STAGE/portico/libportico.so"
(cd "$STAGE" && "$PYTHON" -m build --no-isolation --wheel --outdir "$DIST" >/dev/null)
ls -l "$DIST"/portico-"$version"*
