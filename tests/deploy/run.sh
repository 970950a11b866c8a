#!/usr/bin/env bash
# make test-deploy: worker processes and signals (servers on Debian's python3
# and pyenv 2.7.18), then pools of three Portico instances behind HAProxy and
# behind nginx with rolling restarts under load.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../missing.sh"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CHECKOUT="$(cd "$HERE/../.." && pwd)"
export PYTHONPATH="$CHECKOUT/bindings/python${PYTHONPATH:+:$PYTHONPATH}"
export PORTICO_LIBRARY="${PORTICO_LIBRARY:-$CHECKOUT/build/libportico.so}"
PYENV_ROOT_DIR="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-/root/.pyenv}")"
failed=0
summary=()

run() {
    local label="$1"; shift
    echo "=== $label"
    if "$@"; then summary+=("PASS  $label"); else summary+=("FAIL  $label"); failed=1; fi
}

for python in /usr/bin/python3 "$PYENV_ROOT_DIR/versions/2.7.18/bin/python"; do
    if [ ! -x "$python" ]; then
        if missing "workers on $python: not found"; then summary+=("SKIP  workers on $python: not found")
        else summary+=("FAIL  workers on $python: not found"); failed=1; fi
        continue
    fi
    run "workers and signals ($("$python" -c 'import platform; print(platform.python_version())'))" \
        env PORTICO_TEST_PYTHON="$python" timeout 120 bash -c 'cd "$1" && /usr/bin/python3 ../unittest_ci.py -v test_workers' _ "$HERE"
done
for balancer in haproxy nginx; do
    if ! command -v "$balancer" >/dev/null && [ ! -x "/usr/sbin/$balancer" ]; then
        summary+=("FAIL  $balancer: not installed (scripts/deps.sh test installs it)"); failed=1; continue
    fi
    run "pool behind $balancer" env PATH="$PATH:/usr/sbin" timeout 90 /usr/bin/python3 "$HERE/pool.py" "$balancer"
done

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
exit $failed
