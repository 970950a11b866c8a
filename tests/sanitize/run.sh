#!/usr/bin/env bash
# make test-sanitize: the library (capi/pyaccel.c and the Go side, built by
# `go build -asan` with UBSan for the C) and tests/c under AddressSanitizer
# and UndefinedBehaviorSanitizer:
#   1. the library is instrumented (it calls the sanitizers' report hooks);
#   2. canaries: a deliberate overflow in the C decoder and one in the Go side
#      must each end their Python process with a report (tests/sanitize/canary.py);
#   3. tests/c: server mode, connection-mode misuse (with LeakSanitizer), and
#      the C container driven by real clients;
#   4. the ASGI suite (test_asgi, test_accel) and the WSGI suite (tests/python)
#      on Debian's python3, which loads libasan first (sitecustomize.py here),
#      its allocator routed to malloc so that ASan sees Python's objects too.
# Every report goes to a file in ASAN_DIR/logs: any file fails the step, so a
# report from a server subprocess counts even where its test passed.
# Usage: run.sh ASAN_DIR H2SPEC (ASAN_DIR: libportico.so, server_mode,
# conn_misuse and container built with the sanitizers).
set -u
ASAN_DIR=$1 H2SPEC=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LIB=$ASAN_DIR/libportico.so
PY=/usr/bin/python3
logs=$ASAN_DIR/logs
rm -rf "$logs"
mkdir -p "$logs/canary"
preload=$(gcc -print-file-name=libasan.so)
if [ ! -e "$preload" ]; then
  echo "FAIL  no libasan for gcc ($preload): install gcc's libasan"
  exit 1
fi
# CPython frees nothing at exit by design: leaks are checked in the C programs only.
export ASAN_OPTIONS="detect_leaks=0:log_path=$logs/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
failed=0
summary=()
pass() { echo "ok    $*"; summary+=("ok    $*"); }
fail() { echo "FAIL  $*"; summary+=("FAIL  $*"); failed=$((failed + 1)); }
python_env=(env PYTHONMALLOC=malloc PORTICO_SANITIZE_PRELOAD="$preload" PORTICO_LIBRARY="$LIB")

# 1. Instrumented: the C calls ASan's and UBSan's report hooks, and the Go
# side has -asan's bridge to ASan.
symbols=$(nm -D "$LIB")
for hook in 'U __asan_report_load' 'U __ubsan_handle_' 'T __asan_read_go'; do
  if grep -q " $hook" <<<"$symbols"; then pass "library: $hook"; else fail "library: no $hook"; fi
done

# 2. Canaries: what the step exists to catch is caught.
for mode in decoder library; do
  "${python_env[@]}" ASAN_OPTIONS="detect_leaks=0:log_path=$logs/canary/$mode" \
    PYTHONPATH="$HERE:$ROOT/bindings/python" timeout 120 "$PY" "$HERE/canary.py" $mode >"$logs/canary/$mode.out" 2>&1
  rc=$?
  if [ $rc -ne 0 ] && cat "$logs/canary/$mode".* 2>/dev/null | grep -q 'ERROR: AddressSanitizer: heap-buffer-overflow'; then
    pass "canary $mode: caught"
  else
    fail "canary $mode: not caught (exit $rc)"
    cat "$logs/canary/$mode".*
  fi
done

# 3. tests/c.
for program in server_mode conn_misuse; do
  if ASAN_OPTIONS="detect_leaks=1:log_path=$logs/asan" timeout 300 "$ASAN_DIR/$program" >"$logs/$program.out" 2>&1; then
    pass "tests/c $program"
  else
    fail "tests/c $program"
    tail -n 20 "$logs/$program.out"
  fi
done
if bash "$ROOT/tests/c/container_test.sh" "$ASAN_DIR/container" "$LIB" "$H2SPEC" env >"$logs/container.out" 2>&1; then
  pass "tests/c container ($(grep -c '^ok' "$logs/container.out") checks)"
else
  fail "tests/c container"
  grep -v '^ok' "$logs/container.out" | tail -n 30
fi

# 4. The Python suites.
suite() { # NAME DIR COMMAND...
  local name=$1 dir=$2
  shift 2
  (cd "$dir" && "${python_env[@]}" timeout 900 "$@") >"$logs/$name.out" 2>&1
  local rc=$? result
  result=$(grep -E '^Ran |^OK|^FAILED' "$logs/$name.out" | tr '\n' ' ')
  if [ $rc -eq 0 ]; then pass "$name: $result"; else fail "$name: ${result:-exit $rc}"; tail -n 40 "$logs/$name.out"; fi
}
suite asgi "$ROOT/tests/asgi" env PYTHONPATH="$HERE" "$PY" -m unittest test_asgi test_accel
suite wsgi "$ROOT/tests/python" env PYTHONPATH="$HERE:$ROOT/bindings/python:$ROOT/tests/python" \
  "$PY" -m unittest discover -s "$ROOT/tests/python" -p 'test_*.py'

# 5. Reports from any process of the run: in the log files, or (UBSan's,
# which go to stderr with ASan's runtime loaded) in the outputs. Processes
# whose output a test keeps to itself also halt at their first report, which
# fails that test.
reports=$(find "$logs" -maxdepth 1 \( -name 'asan.*' -o -name 'ubsan.*' \))
reported=$(grep -lE 'runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer' "$logs"/*.out)
if [ -n "$reports$reported" ]; then
  fail "sanitizer reports: $(echo $reports $reported)"
  cat $reports $reported | grep -A12 -E 'runtime error:|ERROR: .*Sanitizer' | head -n 80
else
  pass "no sanitizer report from any process"
fi

echo
echo "=== test-sanitize: $((${#summary[@]} - failed)) ok, $failed failed"
[ $failed -eq 0 ]
