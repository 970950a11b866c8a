#!/usr/bin/env bash
# make bench-ab: export revision REV of this repository into build/ab/<commit>/
# and build its library there (the same flags as `make lib`), so that its
# bindings/python and build/libportico.so make the base of an A/B run.
# Prints the tree's path. A tree already built for that commit is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:?usage: bench/ab_base.sh REV}"
sha=$(git rev-parse --verify --quiet "$rev^{commit}") || { echo "bench-ab: BASE=$rev is not a commit" >&2; exit 2; }
tree=build/ab/${sha:0:12}
if [ ! -f "$tree/build/libportico.so" ]; then
  rm -rf "$tree"
  mkdir -p "$tree"
  git archive "$sha" | tar -x -C "$tree"
  git log -1 --format='%h %<(50,trunc)%s' "$sha" | sed 's/ *$//' > "$tree/COMMIT"
  echo "bench-ab: building $(cat "$tree/COMMIT") in $tree" >&2
  (cd "$tree" && go build -buildmode=c-shared -trimpath \
     -ldflags="-s -w -extldflags=-Wl,-soname,libportico.so.0" -o build/libportico.so ./capi) >&2
fi
echo "$tree"
