#!/usr/bin/env bash
# Runs the Python suite (tests/python) under every interpreter we promise:
# pyenv 2.7.18, 3.6.15, 3.13.0 and Debian's /usr/bin/python3. A missing
# interpreter is reported with a SKIP line, never silently (under CI=true it is
# a failure, see tests/missing.sh). Exits non-zero if any run fails (or if no
# interpreter ran at all).
#
# The library: PORTICO_LIBRARY, or the checkout's build/libportico.so.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../missing.sh"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CHECKOUT="$(cd "$HERE/../.." && pwd)"

if [ -z "${PORTICO_LIBRARY:-}" ] && [ ! -e "$CHECKOUT/build/libportico.so" ]; then
    echo "run_all.sh: no library: set PORTICO_LIBRARY or run 'make' first" >&2
    exit 2
fi

PYENV_ROOT_DIR="$(pyenv root 2>/dev/null || true)"
[ -n "$PYENV_ROOT_DIR" ] || PYENV_ROOT_DIR="${PYENV_ROOT:-/root/.pyenv}"

interpreters=()
for version in 2.7.18 3.6.15 3.13.0; do
    interpreters+=("$version=$PYENV_ROOT_DIR/versions/$version/bin/python")
done
interpreters+=("system=/usr/bin/python3")

summaries=()
failed=0
ran=0
for entry in "${interpreters[@]}"; do
    label="${entry%%=*}"
    python="${entry#*=}"
    if [ ! -x "$python" ]; then
        if missing "python $label not found ($python)"; then
            summaries+=("SKIP  python $label: not found")
        else
            summaries+=("FAIL  python $label: not found")
            failed=$((failed + 1))
        fi
        continue
    fi
    version="$("$python" -c 'import platform; print(platform.python_version())')"
    echo "=== python $version ($python)"
    log="$(mktemp)"
    (cd "$HERE" && PYTHONPATH="$CHECKOUT/bindings/python:$HERE" \
        "$python" ../unittest_ci.py discover -s "$HERE" -p 'test_*.py' -v) >"$log" 2>&1
    status=$?
    cat "$log"
    ran=$((ran + 1))
    tests="$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\} in.*/\1/p' "$log" | tail -1)"
    result="$(grep -E '^(OK|FAILED)' "$log" | tail -1)"
    rm -f "$log"
    if [ "$status" -ne 0 ]; then
        failed=$((failed + 1))
        summaries+=("FAIL  python $version: ${tests:-?} tests, ${result:-no result (exit $status)}")
    else
        summaries+=("PASS  python $version: ${tests:-?} tests, ${result}")
    fi
done

echo
echo "=== summary"
for line in "${summaries[@]}"; do
    echo "$line"
done
if [ "$ran" -eq 0 ]; then
    echo "run_all.sh: no interpreter found" >&2
    exit 1
fi
[ "$failed" -eq 0 ]
