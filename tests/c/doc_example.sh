#!/usr/bin/env bash
# The complete example of docs/c-api.md must stay true: extract it, build it
# with pkg-config as the page says (warnings are errors), and serve one
# request over HTTP/1.1, one over h2c (prior knowledge) and one by Upgrade,
# and the WebSocket echo of ws_client.py.
# Usage: doc_example.sh BUILD_DIR
set -u
BUILD=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
awk '/^## A complete example/{on=1} on && /^```c$/{grab=1; next} grab && /^```$/{exit} grab{print}' \
  "$ROOT/docs/c-api.md" >"$tmp/hello.c"
if [ ! -s "$tmp/hello.c" ]; then echo "FAIL  no example found in docs/c-api.md"; exit 1; fi
export PKG_CONFIG_PATH=$BUILD
# shellcheck disable=SC2046
gcc -std=c99 -Wall -Wextra -Werror "$tmp/hello.c" -o "$tmp/hello" $(pkg-config --cflags --libs portico) \
  -Wl,-rpath,"$BUILD" || { echo "FAIL  the docs example does not build"; exit 1; }
"$tmp/hello" 0 >"$tmp/out" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do grep -q '^port ' "$tmp/out" && break; sleep 0.1; done
url=http://127.0.0.1:$(awk '/^port /{print $2}' "$tmp/out")/
failed=0
for mode in --http1.1 --http2-prior-knowledge --http2; do
  got=$(curl -s -m 10 $mode -w '|%{http_version}' "$url" | tr -d '\n')
  case "$mode:$got" in
    --http1.1:hello\|1.1 | --http2*:hello\|2) echo "ok    docs example, curl $mode: $got" ;;
    *) echo "FAIL  docs example, curl $mode: '$got'"; failed=1 ;;
  esac
done
port=$(awk '/^port /{print $2}' "$tmp/out")
if out=$(/usr/bin/python3 "$ROOT/tests/c/ws_client.py" "$port" 2>&1); then
  echo "$out" | sed 's/^ok    /ok    docs example, /'
else
  echo "$out"; failed=1
fi
exit $failed
