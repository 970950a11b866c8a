#!/usr/bin/env bash
# The ASGI suite (tests/asgi) under Debian's python3 (with Starlette, httpx,
# websockets) and the pyenv interpreters at both ends of the ASGI range (3.8,
# 3.13), where the tests that need third-party clients skip. A missing
# interpreter is reported, never silent. Exits non-zero if any run failed.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../missing.sh"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CHECKOUT="$(cd "$HERE/../.." && pwd)"
export PORTICO_LIBRARY="${PORTICO_LIBRARY:-$CHECKOUT/build/libportico.so}"
PYENV_ROOT_DIR="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-/root/.pyenv}")"
failed=0
ran=0
# The last run is Debian's python3 again without the library's C helpers
# (capi/pyaccel.c): the pure-Python decoder and encoder other hosts fall back on.
for run in /usr/bin/python3 "$PYENV_ROOT_DIR/versions/3.8.18/bin/python" "$PYENV_ROOT_DIR/versions/3.13.0/bin/python" \
           "PORTICO_PY_ACCEL=0 /usr/bin/python3"; do
  python=${run##* }
  accel=1
  [ "$python" = "$run" ] || accel=0
  if [ ! -x "$python" ]; then
    missing "$python: not installed" || failed=$((failed + 1))
    continue
  fi
  echo "== $($python --version 2>&1) ($run)"
  log=$(mktemp)
  (cd "$HERE" && PORTICO_PY_ACCEL=$accel timeout 600 "$python" ../unittest_ci.py -v test_asgi test_accel >"$log" 2>&1)
  rc=$?
  grep -E ' \.\.\. |^Ran |^OK|^FAILED' "$log"
  if [ $rc -eq 0 ]; then
    ran=$((ran + 1))
  else
    cat "$log" | tail -n 60
    echo "FAIL  $run"
    failed=$((failed + 1))
  fi
  rm -f "$log"
done
[ $ran -gt 0 ] || { echo "no interpreter ran the ASGI suite"; exit 1; }
[ $failed -eq 0 ]
