#!/usr/bin/env bash
# Drive tests/c/container.c (connection mode, 2 forked workers that dlopen
# the library) with real clients: curl (HTTP/1.1, h2c by Upgrade and by
# prior knowledge), nghttp, python3-websockets (WebSocket over HTTP/1.1),
# node's http2 (WebSocket over HTTP/2, RFC 8441) and h2spec in strict mode
# (on h2c, and over TLS through HAProxy in front of it).
# Usage: container_test.sh CONTAINER LIBRARY H2SPEC [WRAPPER...]
# WRAPPER (e.g. valgrind and its options) runs the container; the container
# exits non-zero if any worker did (valgrind's --error-exitcode included).
# One line per check; exits non-zero if any failed.
set -u
CONTAINER=$1 LIBRARY=$2 H2SPEC=$3
shift 3
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
tmp=$(mktemp -d)
failed=0
pass() { echo "ok    $*"; }
fail() { echo "FAIL  $*"; failed=$((failed + 1)); }

"$@" "$CONTAINER" "$LIBRARY" 0 2 >"$tmp/out" 2>"$tmp/err" &
pid=$!
hpid=""
cleanup() {
  [ -n "$hpid" ] && kill "$hpid" 2>/dev/null
  kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"
}
trap cleanup EXIT
port=""
for _ in $(seq 300); do
  port=$(awk '/^port /{print $2}' "$tmp/out")
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -z "$port" ]; then echo "FAIL  container did not start"; cat "$tmp/err"; exit 1; fi
url=http://127.0.0.1:$port
# Workers load the library after the fork (slow under valgrind): wait for one.
for _ in $(seq 600); do
  [ "$(curl -s -m 5 "$url/")" = hello ] && break
  sleep 0.2
done

expect() { # NAME WANT GOT
  if [ "$3" = "$2" ]; then pass "$1"; else fail "$1: got '$3', want '$2'"; fi
}
C="curl -s -m 60"
expect "curl --http1.1 hello" "hello|1.1" "$($C --http1.1 -w '|%{http_version}' "$url/" | tr -d '\n')"
expect "curl --http2 (Upgrade: h2c) hello" "hello|2" "$($C --http2 -w '|%{http_version}' "$url/" | tr -d '\n')"
expect "curl --http2-prior-knowledge hello" "hello|2" \
  "$($C --http2-prior-knowledge -w '|%{http_version}' "$url/" | tr -d '\n')"
head -c 3000000 /dev/urandom >"$tmp/up"
sum=$(md5sum <"$tmp/up")
for mode in --http1.1 --http2 --http2-prior-knowledge; do
  # 3 MB: beyond every HTTP/2 window, so flow control works both ways.
  expect "curl $mode POST /echo 3 MB" "$sum" "$($C $mode --data-binary @"$tmp/up" "$url/echo" | md5sum)"
done
# A client that half-closes after its request still gets the answer, then EOF.
got=$($PY - "$port" <<'PYEOF'
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=60)
s.sendall(b'GET / HTTP/1.1\r\nHost: a\r\n\r\n')
s.shutdown(socket.SHUT_WR)
b = b''
while True:
    d = s.recv(65536)
    if not d:
        break
    b += d
print(b.split(b'\r\n')[0].decode(), b.endswith(b'\r\n\r\nhello\n'))
PYEOF
)
expect "half-closed HTTP/1.1 client gets its answer, then EOF" "HTTP/1.1 200 OK True" "$got"
out=$(nghttp -nv "$url/" 2>&1)
if echo "$out" | grep -q ':status: 200' && echo "$out" | grep -q 'SETTINGS_ENABLE_CONNECT_PROTOCOL(0x08):1'; then
  pass "nghttp (prior knowledge; ENABLE_CONNECT_PROTOCOL advertised)"
else
  fail "nghttp: $out"
fi
out=$(nghttp -nvu "$url/" 2>&1)
if echo "$out" | grep -q ':status: 200'; then pass "nghttp -u (Upgrade: h2c)"; else fail "nghttp -u: $out"; fi
expect "nghttp POST /echo" "$sum" "$(nghttp -d "$tmp/up" "$url/echo" 2>&1 | md5sum)"

out=$($PY "$HERE/ws_client.py" "$port" 2>&1)
echo "$out"
failed=$((failed + $(echo "$out" | grep -c '^FAIL')))
[ -n "$out" ] || fail "ws_client.py printed nothing"
expect "node http2: WebSocket over HTTP/2 (RFC 8441) echo" "hello over h2" \
  "$(node "$ROOT/tests/h2/ws_h2_client.js" "$url/" 2>&1)"

# h2spec strict (tests/h2spec.sh), on h2c, and over TLS through HAProxy in
# front (TLS with ALPN h2 ends there, the container gets the connection's
# bytes, as behind a TLS router).
targets=("h2c:$port")
if [ "${H2SPEC_TLS:-1}" = 0 ]; then
  echo "h2spec over TLS: not in this run (H2SPEC_TLS=0)"
elif command -v haproxy >/dev/null 2>&1; then
  tport=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
  cat "$tmp/cert.pem" "$tmp/key.pem" >"$tmp/tls.pem"
  printf 'defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\nfrontend f\n  bind 127.0.0.1:%s ssl crt %s alpn h2\n  default_backend b\nbackend b\n  server c 127.0.0.1:%s\n' \
    "$tport" "$tmp/tls.pem" "$port" >"$tmp/haproxy.cfg"
  haproxy -f "$tmp/haproxy.cfg" -db >"$tmp/haproxy.log" 2>&1 &
  hpid=$!
  for _ in $(seq 50); do
    curl -sk -m 5 --http2 "https://127.0.0.1:$tport/" >/dev/null && break
    sleep 0.1
  done
  targets+=("tls:$tport")
elif [ "${CI:-}" = true ]; then
  fail "haproxy is not installed: h2spec over TLS in front of the container not run"
else
  echo "SKIP  h2spec over TLS: haproxy is not installed"
fi
. "$HERE/../h2spec.sh"
for target in "${targets[@]}"; do
  mode=${target%%:*} tp=${target#*:}
  args=(-h 127.0.0.1 -p "$tp" -o 10)
  [ "$mode" = tls ] && args+=(-t -k)
  h2spec_strict "$mode" "${args[@]}"
done
if [ -n "$hpid" ]; then kill "$hpid"; wait "$hpid" 2>/dev/null; hpid=""; fi

kill -TERM $pid
wait $pid
rc=$?
if [ $rc -eq 0 ]; then pass "container and its workers exited cleanly ($*)"; else
  fail "container exit status $rc"
  cat "$tmp/err"
fi
trap 'rm -rf "$tmp"' EXIT
echo "container: $failed failed"
[ $failed -eq 0 ]
