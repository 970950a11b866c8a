#!/usr/bin/env bash
# make test-wheel: the wheel installs outside the checkout and serves.
#  - pyenv 2.7.18 with its pip (19.2, older than manylinux_2_x support, so
#    the platform is named explicitly) into a --target directory;
#  - pyenv 3.13.0 into a fresh venv with pip (which checks the tag itself);
#  - the sdist builds a wheel offline from its Go sources.
# Each install runs its `portico` console script with no PORTICO_LIBRARY and
# no PYTHONPATH into the checkout, from a directory outside it; the app
# answers with the path of the library it loaded, which must be the bundled one.
set -euo pipefail
CHECKOUT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WHEEL="$(ls "$CHECKOUT"/dist/portico-*-py2.py3-none-manylinux_2_34_x86_64.whl | tail -1)"
SDIST="$(ls "$CHECKOUT"/dist/portico-*.tar.gz | tail -1)"
PYENV_ROOT_DIR="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-/root/.pyenv}")"
WORK="$(mktemp -d /tmp/portico-wheel.XXXXXX)"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
case "$WORK" in "$CHECKOUT"*) echo "work dir inside the checkout" >&2; exit 1 ;; esac

cat > "$WORK/wheelapp.py" <<'APP'
import sys
def app(environ, start_response):
    from portico import _lib
    body = ('%s %s %s\n' % (sys.version_info[0], environ['SERVER_PROTOCOL'],
                            _lib.load()._name)).encode('ascii')
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]
APP

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# serve LABEL PREFIX_DIR PORTICO_SCRIPT [PYTHONPATH [EXTRA ARGS...]]
serve_once() {
    local label="$1" prefix="$2" script="$3" pypath="${4:-}"
    shift 4 2>/dev/null || shift $#
    local port log body
    port="$(free_port)"
    log="$WORK/$label.log"
    (cd "$WORK" && exec env -u PORTICO_LIBRARY PYTHONPATH="$pypath" "$script" serve wheelapp:app \
        --bind "127.0.0.1:$port" --threads 2 "$@") >"$log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        grep -q 'portico: serving' "$log" && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    body="$(curl -sS --max-time 5 "http://127.0.0.1:$port/" || true)"
    local body2
    body2="$(curl -sS --max-time 5 --http2-prior-knowledge "http://127.0.0.1:$port/" || true)"
    kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" || true; SERVER_PID=""
    echo "$label: $body | $body2"
    case "$body" in
        *" HTTP/1.1 $prefix/"*"portico/libportico.so") ;;
        *) echo "FAIL $label: expected HTTP/1.1 from $prefix/.../portico/libportico.so"; cat "$log"; exit 1 ;;
    esac
    case "$body2" in *" HTTP/2.0 $prefix/"*) ;; *) echo "FAIL $label: no h2c answer"; cat "$log"; exit 1 ;; esac
}

echo "=== wheel: $(basename "$WHEEL")"
# 2.7: pip 19.2 predates manylinux_2_x tags (pip >= 20.3 knows them), so it
# is told the platform; without pip (or with WHEEL_TEST_UNPACK=1), the
# wheel is unpacked (it is a zip).
PY27="$PYENV_ROOT_DIR/versions/2.7.18/bin/python"
T27="$WORK/py27"
if [ -z "${WHEEL_TEST_UNPACK:-}" ] && "$PY27" -m pip --version >/dev/null 2>&1; then
    "$PY27" -m pip install -q --disable-pip-version-check --no-index --target "$T27" \
        --platform manylinux_2_34_x86_64 --implementation py --python-version 27 --abi none \
        --only-binary=:all: "$WHEEL"
    script27="$T27/bin/portico"
else
    mkdir -p "$T27" && (cd "$T27" && /usr/bin/python3 -m zipfile -e "$WHEEL" .)
    cp -r "$T27"/portico-*.data/purelib/portico "$T27/"
    printf '#!%s\nimport sys\nfrom portico.cli import main\nsys.exit(main())\n' "$PY27" > "$T27/portico-cli"
    chmod +x "$T27/portico-cli"; script27="$T27/portico-cli"
fi
# pip --target writes a script with a generic shebang: run it with 2.7.
printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$PY27" "$script27" > "$WORK/portico27"; chmod +x "$WORK/portico27"
serve_once py2.7 "$T27" "$WORK/portico27" "$T27"
serve_once py2.7-workers "$T27" "$WORK/portico27" "$T27" --workers 2

# 3.13: a fresh venv, pip checks the manylinux_2_34 tag against this glibc.
PY313="$PYENV_ROOT_DIR/versions/3.13.0/bin/python"
"$PY313" -m venv "$WORK/venv313"
"$WORK/venv313/bin/python" -m pip install -q --disable-pip-version-check --no-index "$WHEEL"
serve_once py3.13 "$WORK/venv313" "$WORK/venv313/bin/portico"
# The supervisor starts its workers with the venv's interpreter.
serve_once py3.13-workers "$WORK/venv313" "$WORK/venv313/bin/portico" "" --workers 2
"$WORK/venv313/bin/python" -c 'import importlib.metadata as m; d=m.distribution("portico"); assert d.metadata["License"]=="MIT", d.metadata["License"]; assert any(str(f).endswith("LICENSE") for f in d.files); print("metadata: %s %s, license %s" % (d.metadata["Name"], d.version, d.metadata["License"]))'

# The sdist: a wheel built from it (Go sources inside) serves too.
mkdir "$WORK/sdist" && tar xzf "$SDIST" -C "$WORK/sdist"
src="$(ls -d "$WORK"/sdist/portico-*)"
[ ! -e "$src/portico/libportico.so" ] || { echo "FAIL: the sdist carries a binary"; exit 1; }
(cd "$src" && /usr/bin/python3 -m build --no-isolation --wheel --outdir "$WORK/sdist-dist" >/dev/null 2>&1)
/usr/bin/python3 -m venv "$WORK/venv-sdist"
"$WORK/venv-sdist/bin/python" -m pip install -q --disable-pip-version-check --no-index "$WORK"/sdist-dist/*.whl
serve_once sdist-py3 "$WORK/venv-sdist" "$WORK/venv-sdist/bin/portico"
echo "test-wheel: OK (2.7.18 --target, 3.13 venv, each also with --workers 2; wheel from sdist)"
