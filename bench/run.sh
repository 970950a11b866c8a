#!/usr/bin/env bash
# make bench: Portico against its peers on this machine, side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/bench.py "$@"
