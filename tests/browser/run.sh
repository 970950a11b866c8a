#!/usr/bin/env bash
# Headless Chromium (Debian's) against `portico serve demo.app`: the page and
# its WebSocket over HTTP/1.1, and over HTTP/2 with TLS (RFC 8441).
set -u
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
PY=/usr/bin/python3
export PORTICO_LIBRARY=${PORTICO_LIBRARY:-$ROOT/build/libportico.so}
if [ ! -x /usr/bin/chromium ]; then
  echo "FAIL  /usr/bin/chromium is missing (make test installs Debian's chromium)"; exit 1
fi
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --loglevel=error || { echo "FAIL  npm ci"; exit 1; }
fi
tmp=$(mktemp -d)
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port); tport=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 2>/dev/null
(cd "$ROOT" && PYTHONPATH=$ROOT/bindings/python:$ROOT exec $PY -m portico serve demo.app:application \
  --bind "http://127.0.0.1:$port" --bind "https://127.0.0.1:$tport" \
  --certfile "$tmp/cert.pem" --keyfile "$tmp/key.pem") 2>"$tmp/server.log" &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
timeout 60 node demo_test.js "http://127.0.0.1:$port/" "https://127.0.0.1:$tport/"
rc=$?
[ $rc -eq 0 ] && echo "browser: all checks passed" || { echo "browser: failed; server log:"; tail -20 "$tmp/server.log"; }
exit $rc
