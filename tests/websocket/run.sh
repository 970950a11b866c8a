#!/usr/bin/env bash
# Third-party WebSocket clients against `portico serve` (tests/python/wsapps.py):
#   - Debian's /usr/bin/python3 with python3-websockets (py_client.py)
#   - node with the npm `ws` package (node_client.js), installed here from
#     package-lock.json with `npm ci` when node_modules is missing
# Each does an echo of text and binary (1 MiB too), without and with
# permessage-deflate, a ping, and a clean close. A client that cannot run
# gets a SKIP line. Ends with "N passed, N failed, N skipped"; exits non-zero
# on any failure.
#
# The library: PORTICO_LIBRARY, or the checkout's build/libportico.so.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../missing.sh"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CHECKOUT="$(cd "$HERE/../.." && pwd)"
SYSTEM_PYTHON=/usr/bin/python3
SERVER_PYTHON="${PYTHON:-$SYSTEM_PYTHON}"

if [ -z "${PORTICO_LIBRARY:-}" ]; then
    export PORTICO_LIBRARY="$CHECKOUT/build/libportico.so"
fi
if [ ! -e "$PORTICO_LIBRARY" ]; then
    echo "run.sh: no library at $PORTICO_LIBRARY: run 'make' first" >&2
    exit 2
fi

passed=0
failed=0
skipped=0
log="$(mktemp)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null
    fi
    rm -f "$log"
}
trap cleanup EXIT

# start_server PYTHONPATH PYTHON ARGS...: `portico serve ARGS` on a port of
# its own, logging to $log; sets server_pid and port (empty if it did not start).
start_server() {
    local path="$1" python="$2"; shift 2
    PYTHONPATH="$path" "$python" -m portico serve "$@" --bind 127.0.0.1:0 --threads 4 >"$log" 2>&1 &
    server_pid=$!
    port=""
    for _ in $(seq 200); do
        port="$(sed -n 's/^portico: serving .* on http:\/\/127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$log")"
        [ -n "$port" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    return 1
}

if ! start_server "$CHECKOUT/bindings/python:$CHECKOUT/tests/python" "$SERVER_PYTHON" wsapps:app; then
    echo "run.sh: the server did not start:" >&2
    cat "$log" >&2
    exit 1
fi
echo "portico serve wsapps:app on 127.0.0.1:$port"

# count OUTPUT: add its PASS and FAIL lines to the totals.
count() {
    local out="$1"
    printf '%s\n' "$out"
    passed=$((passed + $(printf '%s\n' "$out" | grep -c '^PASS: ')))
    failed=$((failed + $(printf '%s\n' "$out" | grep -c '^FAIL: ')))
}

# run_client NAME CMD...: run a client, add its lines to the totals, and
# count a non-zero exit without a FAIL line as a failure too.
run_client() {
    local name="$1"; shift
    local out status
    out="$("$@" 2>&1)"
    status=$?
    count "$out"
    if [ "$status" -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^FAIL: '; then
        echo "FAIL: $name client exited $status"
        failed=$((failed + 1))
    fi
}

# Debian's python clients: python3-websockets, and python3-wsproto (sans-I/O, over a plain socket).
for module in websockets wsproto; do
    client="$HERE/py_client.py"
    [ "$module" = wsproto ] && client="$HERE/wsproto_client.py"
    if "$SYSTEM_PYTHON" -c "import $module" 2>/dev/null; then
        run_client "python $module" timeout 120 "$SYSTEM_PYTHON" "$client" "$port"
    else
        missing "python3-$module is not importable by $SYSTEM_PYTHON (apt-get install python3-$module)" \
            || failed=$((failed + 1))
        skipped=$((skipped + 1))
    fi
done

# node + ws
if ! command -v node >/dev/null 2>&1; then
    missing "node is not installed" || failed=$((failed + 1))
    skipped=$((skipped + 1))
else
    if [ ! -d "$HERE/node_modules/ws" ] && command -v npm >/dev/null 2>&1; then
        (cd "$HERE" && timeout 300 npm ci --no-audit --no-fund >/dev/null 2>&1) \
            || echo "run.sh: npm ci failed"
    fi
    if [ -d "$HERE/node_modules/ws" ]; then
        run_client "node ws" bash -c 'cd "$1" && timeout 120 node node_client.js "$2"' _ "$HERE" "$port"
    else
        missing "the npm ws package is not installed in $HERE/node_modules (npm ci)" || failed=$((failed + 1))
        skipped=$((skipped + 1))
    fi
fi

kill -TERM "$server_pid"
for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if wait "$server_pid"; then
    echo "PASS: the server exited 0 on SIGTERM"
    passed=$((passed + 1))
else
    echo "FAIL: the server did not exit 0 on SIGTERM; its output:"
    cat "$log"
    failed=$((failed + 1))
fi
server_pid=""

# Autobahn's good-messages-then-bad-frame cases (order_client.py) against an
# echo app, WSGI and ASGI, over HTTP/1.1 and HTTP/2: the echoes, then 1002.
ORDER_RUNS=${ORDER_RUNS:-5}
for iface in wsgi asgi; do
    appname=app server_python=$SERVER_PYTHON
    [ "$iface" = asgi ] && appname=asgi_app server_python=$SYSTEM_PYTHON # ASGI: 3.8+
    if ! start_server "$CHECKOUT/bindings/python:$HERE" "$server_python" "orderapp:$appname" --interface "$iface"; then
        echo "FAIL: orderapp ($iface) did not start: $(tail -3 "$log")"
        failed=$((failed + 1))
        continue
    fi
    transports="h1 h2"
    if ! "$SYSTEM_PYTHON" -c 'import h2' 2>/dev/null; then
        transports=h1
        if [ "${CI:-}" = true ]; then
            echo "FAIL: python3-h2 is not importable by $SYSTEM_PYTHON: the RFC 8441 order cases not run"
            failed=$((failed + 1))
        else
            echo "SKIP: python3-h2 is not importable by $SYSTEM_PYTHON: the RFC 8441 order cases not run"
            skipped=$((skipped + 1))
        fi
    fi
    run_client "order ($iface)" timeout 300 "$SYSTEM_PYTHON" "$HERE/order_client.py" "$port" "$ORDER_RUNS" $transports
    kill -TERM "$server_pid"
    wait "$server_pid"
    server_pid=""
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
