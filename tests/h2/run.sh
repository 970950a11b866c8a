#!/usr/bin/env bash
# HTTP/2 against `portico serve`: h2spec (strict, cleartext and TLS) and real
# clients (curl three ways, nghttp, h2load, httpx, node's http2 module).
# Every check prints one line; the script exits non-zero if any failed.
set -u
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
PY=/usr/bin/python3
H2SPEC=${H2SPEC:-$ROOT/build/tools/h2spec}
export PORTICO_LIBRARY=${PORTICO_LIBRARY:-$ROOT/build/libportico.so}
tmp=$(mktemp -d)
failed=0
pass() { echo "ok    $*"; }
fail() { echo "FAIL  $*"; failed=$((failed + 1)); }

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port); tport=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 2>/dev/null

PYTHONPATH=$ROOT/bindings/python $PY -m portico serve app:app --threads 8 \
  --bind "http://127.0.0.1:$port" --bind "https://127.0.0.1:$tport" \
  --certfile "$tmp/cert.pem" --keyfile "$tmp/key.pem" 2>"$tmp/server.log" &
pid=$!
cleanup() { kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.1
done

# h2spec: every case, strict mode, on each port (tests/h2spec.sh).
. ../h2spec.sh
h2spec_strict cleartext -h 127.0.0.1 -o 5 -p "$port"
h2spec_strict tls -h 127.0.0.1 -o 5 -p "$tport" -t -k

expect() { # NAME WANT GOT
  if [ "$3" = "$2" ]; then pass "$1"; else fail "$1: got '$3', want '$2'"; fi
}
expect "curl --http2-prior-knowledge" "HTTP/2.0 2 GET 0" \
  "$(curl -s --http2-prior-knowledge "http://127.0.0.1:$port/")"
expect "curl --http2 (Upgrade: h2c)" "HTTP/2.0 2 GET 0|2" \
  "$(curl -s --http2 -w '|%{http_version}' "http://127.0.0.1:$port/" | tr -d '\n')"
expect "curl --http2 over TLS (ALPN h2)" "HTTP/2.0 2 GET 0|2" \
  "$(curl -sk --http2 -w '|%{http_version}' "https://127.0.0.1:$tport/" | tr -d '\n')"
expect "curl --http1.1 on the same TLS port" "HTTP/1.1 1.1 GET 0" \
  "$(curl -sk --http1.1 "https://127.0.0.1:$tport/")"
head -c 3000000 /dev/urandom > "$tmp/upload"
expect "curl POST 3 MB over h2c" "HTTP/2.0 2 POST 3000000" \
  "$(curl -s --http2-prior-knowledge --data-binary @"$tmp/upload" "http://127.0.0.1:$port/")"
expect "curl GET 1 MiB over TLS h2" "1048576" \
  "$(curl -sk --http2 "https://127.0.0.1:$tport/big" | wc -c | tr -d ' ')"

out=$(nghttp -nv "http://127.0.0.1:$port/" 2>&1)
if echo "$out" | grep -q ':status: 200'; then pass "nghttp (prior knowledge)"; else fail "nghttp: $out"; fi
out=$(nghttp -nvu "http://127.0.0.1:$port/" 2>&1)
if echo "$out" | grep -q ':status: 200'; then pass "nghttp -u (Upgrade)"; else fail "nghttp -u"; fi

out=$(h2load -n 20000 -c 10 -m 10 "http://127.0.0.1:$port/" 2>&1)
line=$(echo "$out" | grep -E '^requests:')
if echo "$line" | grep -q '20000 succeeded, 0 failed, 0 errored'; then
  pass "h2load -n 20000 -c 10 -m 10: $(echo "$out" | grep -E '^finished in')"
else
  fail "h2load: $line"
fi

if $PY -c 'import httpx, h2' 2>/dev/null; then
  got=$($PY - "$port" <<'PYEOF'
import sys, httpx
with httpx.Client(http1=False, http2=True) as c:
    r = c.post('http://127.0.0.1:%s/' % sys.argv[1], content=b'x' * 100000)
    print('%s|%s' % (r.text.strip(), r.http_version))
PYEOF
)
  expect "httpx http2 (prior knowledge)" "HTTP/2.0 2 POST 100000|HTTP/2" "$got"
else
  fail "python3-httpx / python3-h2 not installed"
fi

got=$(node - "$port" <<'JSEOF'
const http2 = require('http2');
const s = http2.connect('http://127.0.0.1:' + process.argv[2]);
const req = s.request({':method': 'POST', ':path': '/node'});
let body = '';
req.on('data', d => body += d);
req.on('end', () => { console.log(body.trim()); s.close(); });
req.on('error', e => { console.log('error ' + e.message); s.close(); });
req.end('hello from node');
JSEOF
)
expect "node http2 module" "HTTP/2.0 2 POST 15" "$got"

expect "node http2 WebSocket (RFC 8441, h2c)" "HTTP/2.0 hello over h2" \
  "$(node ws_h2_client.js "http://127.0.0.1:$port")"
expect "node http2 WebSocket (RFC 8441, TLS)" "HTTP/2.0 hello over h2" \
  "$(node ws_h2_client.js "https://127.0.0.1:$tport")"

# The gateway extensions over HTTP/2 (app.py: /push, /pushed.css, /trailers,
# /early, /request-trailers).
for url in "http://127.0.0.1:$port/push" "https://127.0.0.1:$tport/push"; do
  out=$(nghttp -nv "$url" 2>&1)
  if echo "$out" | grep -q 'recv PUSH_PROMISE frame' &&
     echo "$out" | grep -qE 'recv \(stream_id=[0-9]*[02468]\) :status: 200'; then
    pass "nghttp server push (${url%%:*})"
  else
    fail "nghttp server push (${url%%:*}): $(echo "$out" | grep -E 'PUSH_PROMISE|:status|RST|GOAWAY' | tr '\n' ' ')"
  fi
done
out=$(nghttp -nv "http://127.0.0.1:$port/trailers" 2>&1)
if echo "$out" | grep -A1 'x-trailer: yes' | grep -q 'recv HEADERS frame .*flags=0x05'; then
  pass "nghttp response trailers"
else
  fail "nghttp response trailers: $(echo "$out" | grep -E 'recv (HEADERS|DATA)|x-trailer' | tr '\n' ' ')"
fi
for mode in "--http2-prior-knowledge http://127.0.0.1:$port" "-k --http2 https://127.0.0.1:$tport"; do
  out=$(curl -sv $mode/early 2>&1)
  if echo "$out" | grep -q '^< HTTP/2 103' && echo "$out" | grep -q '^< link: </pushed.css>' &&
     echo "$out" | grep -q '^< HTTP/2 200'; then
    pass "curl 103 Early Hints over h2 (${mode%% *})"
  else
    fail "curl 103 Early Hints over h2 (${mode%% *}): $(echo "$out" | grep '^< ' | tr '\n' ' ')"
  fi
done
if $PY -c 'import h2' 2>/dev/null; then
  expect "h2 client: request trailers" "HTTP/2.0 14 x-checksum=abc x-count=2" \
    "$(timeout 20 $PY h2_client.py "$port" request-trailers 2>&1)"
  expect "h2 client: pushed /pushed.css runs with gateway.pushed" \
    "push True | /pushed.css 200 /* pushed=True push-offered=False */" \
    "$(timeout 20 $PY h2_client.py "$port" push 2>&1)"
  expect "h2 client: SETTINGS_ENABLE_PUSH 0 hides the push extension" "push None" \
    "$(timeout 20 $PY h2_client.py "$port" no-push 2>&1)"
else
  fail "python3-h2 not installed: h2_client.py checks not run"
fi

if [ $failed -ne 0 ]; then
  echo "h2: $failed check(s) failed; server log:"; tail -20 "$tmp/server.log"
  exit 1
fi
echo "h2: all checks passed"
