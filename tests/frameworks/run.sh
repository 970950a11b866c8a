#!/usr/bin/env bash
# Flask, Django and WebOb apps served by `python3 -m portico serve` (Debian's
# /usr/bin/python3, which has the frameworks), hit with curl: GET with a
# query, POST form, POST JSON, a 404. A framework that is not importable is
# skipped with a visible SKIP line. Exits non-zero on any failure.
#
# The library: PORTICO_LIBRARY, or the checkout's build/libportico.so.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../missing.sh"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CHECKOUT="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-/usr/bin/python3}"
export PYTHONPATH="$CHECKOUT/bindings/python:$HERE"

failures=0
server_pid=""
server_log=""

stop_server() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
        server_pid=""
    fi
    [ -n "$server_log" ] && rm -f "$server_log"
    server_log=""
}
trap stop_server EXIT

# start_server MODULE:APP -> sets server_pid and base_url
start_server() {
    server_log="$(mktemp)"
    (cd "$HERE" && exec "$PYTHON" -m portico serve "$1" --bind 127.0.0.1:0 --threads 4) \
        >"$server_log" 2>&1 &
    server_pid=$!
    base_url=""
    for _ in $(seq 200); do
        base_url="$(sed -n 's/^portico: serving .* on \(http:[^ ]*\) .*/\1/p' "$server_log")"
        [ -n "$base_url" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "FAIL  $1: server did not start:"; cat "$server_log"
    return 1
}

# expect NAME STATUS BODY-SUBSTRING CURL-ARGS...
expect() {
    local name="$1" status="$2" needle="$3"; shift 3
    local out code body
    out="$(curl -sS --max-time 10 -w '\n%{http_code}' "$@" 2>&1)"
    code="${out##*$'\n'}"
    body="${out%$'\n'*}"
    if [ "$code" = "$status" ] && [[ "$body" == *"$needle"* ]]; then
        echo "ok    $name"
    else
        echo "FAIL  $name: wanted $status with '$needle', got $code: $body"
        failures=$((failures + 1))
    fi
}

# run_framework LABEL MODULE SPEC CHUNKED-BODIES(yes|no)
run_framework() {
    local label="$1" module="$2" spec="$3" chunked_bodies="$4"
    if ! "$PYTHON" -c "import $module" 2>/dev/null; then
        missing "$label is not importable by $PYTHON (import $module)" || failures=$((failures + 1))
        return
    fi
    echo "=== $label $("$PYTHON" -c "
import importlib, $module
try:
    from importlib.metadata import version
    print(version('$label'))
except Exception:
    print(getattr($module, '__version__', '?'))" 2>/dev/null)"
    if ! start_server "$spec"; then
        failures=$((failures + 1))
        stop_server
        return
    fi
    expect "$label GET with a query" 200 "hello portico from HTTP/1.1" "$base_url/hello?name=portico"
    expect "$label GET over HTTP/1.0" 200 "from HTTP/1.0" --http1.0 "$base_url/hello?name=x"
    expect "$label POST form" 200 "form a=1 b=two words" \
        --data-urlencode 'a=1' --data-urlencode 'b=two words' "$base_url/form"
    expect "$label POST json" 200 'json {"x": [1, 2]}' \
        -H 'Content-Type: application/json' --data '{"x": [1, 2]}' "$base_url/json"
    if [ "$chunked_bodies" = yes ]; then
        expect "$label POST json, chunked" 200 'json {"y": "z"}' -H 'Content-Type: application/json' \
            -H 'Transfer-Encoding: chunked' --data '{"y": "z"}' "$base_url/json"
    fi
    expect "$label 404" 404 "" "$base_url/no/such/page"
    if grep -q Traceback "$server_log"; then
        echo "FAIL  $label: the server logged a traceback:"; cat "$server_log"
        failures=$((failures + 1))
    fi
    stop_server
}

if [ -z "${PORTICO_LIBRARY:-}" ] && [ ! -e "$CHECKOUT/build/libportico.so" ]; then
    echo "run.sh: no library: set PORTICO_LIBRARY or run 'make' first" >&2
    exit 2
fi
command -v curl >/dev/null || { echo "run.sh: curl is required" >&2; exit 2; }

# Django reads a body only up to CONTENT_LENGTH (it ignores
# wsgi.input_terminated), so it never sees a chunked request body.
run_framework Flask flask flask_app:app yes
run_framework Django django django_app:application no
run_framework WebOb webob webob_app:application yes

echo
if [ "$failures" -ne 0 ]; then
    echo "frameworks: $failures failure(s)"
    exit 1
fi
echo "frameworks: all passed"
