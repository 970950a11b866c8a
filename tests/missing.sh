# Sourced by the suite runners. `missing WHAT` reports a part of a suite that
# cannot run because WHAT (a tool, a module, an interpreter) is absent: a SKIP
# line on a developer's machine, a FAIL line under CI=true, where a suite that
# cannot run must never pass. It returns 1 in the second case, so a runner
# writes `missing "node is not installed" || failed=$((failed + 1))`.
missing() {
    if [ "${CI:-}" = true ]; then
        echo "FAIL  $* (CI=true: this must run; scripts/deps.sh test installs what make test needs)"
        return 1
    fi
    echo "SKIP  $*"
    return 0
}
