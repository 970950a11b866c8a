#!/usr/bin/env bash
# Drive tests/c/container.c (connection mode, 2 forked workers that dlopen
# the library) with real clients: curl (HTTP/1.1, h2c by Upgrade and by
# prior knowledge), nghttp, python3-websockets (WebSocket over HTTP/1.1),
# node's http2 (WebSocket over HTTP/2, RFC 8441) and h2spec in strict mode.
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
cleanup() { kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"; }
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

out=$("$H2SPEC" -h 127.0.0.1 -p "$port" -S -o 10 2>&1)
summary=$(echo "$out" | grep -E '^[0-9]+ tests, ')
if echo "$summary" | grep -qE '^146 tests, 146 passed, 0 skipped, 0 failed'; then
  pass "h2spec -S: $summary"
else
  fail "h2spec -S: ${summary:-no summary}"
  echo "$out" | grep -A4 '×' | head -40
fi

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
