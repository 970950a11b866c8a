#!/usr/bin/env bash
# Install the Debian packages a make target needs, only those missing.
# Usage: scripts/deps.sh test|bench
set -euo pipefail
case "${1:-test}" in
  test)  pkgs="gcc g++ binutils pkg-config curl valgrind python3 python3-flask python3-django python3-webob python3-websockets python3-wsproto python3-httpx python3-h2 nghttp2-client openssl chromium nodejs python3-build python3-setuptools python3-wheel python3-venv haproxy nginx-light wrk gunicorn uwsgi uwsgi-plugin-python3 apache2 libapache2-mod-wsgi-py3 python3-uvicorn python3-hypercorn slowhttptest python3-starlette" ;;
  bench) pkgs="wrk uwsgi uwsgi-plugin-python3 gunicorn python3 python3-hypercorn python3-uvloop python3-uvicorn python3-httptools python3-websockets python3-daphne python3-matplotlib nghttp2-client openssl util-linux" ;;
  *) echo "deps.sh: unknown set '$1'" >&2; exit 2 ;;
esac
missing=()
for p in $pkgs; do
  # Node may come from elsewhere (nodesource bundles npm); any node will do.
  [ "$p" = nodejs ] && command -v node >/dev/null && command -v npm >/dev/null && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# Lock contention (another apt running) is retried rather than failed.
for attempt in 1 2 3 4 5; do
  if $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    exit 0
  fi
  echo "deps: apt-get failed (attempt $attempt), retrying in 10 s" >&2
  sleep 10
done
echo "deps: could not install ${missing[*]}" >&2
exit 1
