# Sourced by tests/h2/run.sh (server mode) and tests/c/container_test.sh
# (connection mode). `h2spec_strict MODE H2SPEC-ARGS...` runs h2spec in strict
# mode H2SPEC_RUNS times (3; `make soak`: 20) against / (the app reads the
# body first) and /unread (it answers before reading it); each run must give
# 146 of 146. The caller defines pass and fail (one line each) and H2SPEC.
H2SPEC_RUNS=${H2SPEC_RUNS:-3}
h2spec_strict() {
  local mode=$1 path run out summary; shift
  for path in / /unread; do
    for run in $(seq "$H2SPEC_RUNS"); do
      out=$("$H2SPEC" -S "$@" -P "$path" 2>&1)
      summary=$(echo "$out" | grep -E '^[0-9]+ tests, ')
      if echo "$summary" | grep -qE '^146 tests, 146 passed, 0 skipped, 0 failed'; then
        pass "h2spec -S $mode $path run $run/$H2SPEC_RUNS: $summary"
      else
        fail "h2spec -S $mode $path run $run/$H2SPEC_RUNS: ${summary:-no summary}"
        echo "$out" | grep -A4 '×' | head -40
      fi
    done
  done
}
