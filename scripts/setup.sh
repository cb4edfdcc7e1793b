#!/usr/bin/env bash
# Installs what dockgate's scripts need on a Debian machine, as root: Debian packages first
# (only those missing), then the npm dependencies from package-lock.json, then the build.
# Sourced by scripts/serve.sh and scripts/test.sh; safe to run again (it skips what is there).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

debian_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]} > 0)); then
    if [ "$(id -u)" != 0 ]; then
      echo "dockgate setup: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
      exit 1
    fi
    echo "dockgate setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

npm_dependencies() {
  # npm ci when node_modules is missing or older than the lock file.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    # npm's errors in full, its warnings not (their causes are fixed in package.json: overrides,
    # allowScripts); the one line that matters is the count of packages added.
    echo "dockgate setup: installing npm dependencies (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
  npm run --silent build
}

# With no DOCKER_HOST and no engine answering on the standard socket, start the local engine if
# it is installed (machines without systemd, such as CI containers). Its flags keep it off the
# network: no bridge, no iptables changes.
ensure_local_engine() {
  if [ -z "${DOCKER_HOST:-}" ] && ! curl -sf --max-time 2 --unix-socket /var/run/docker.sock http://docker/_ping >/dev/null 2>&1; then
    if command -v dockerd >/dev/null && [ "$(id -u)" = 0 ] && ! pgrep -x dockerd >/dev/null; then
      echo "dockgate: no engine answers on /var/run/docker.sock; starting dockerd (log: /var/log/dockgate-dockerd.log)" >&2
      nohup dockerd --bridge=none --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false \
        >>/var/log/dockgate-dockerd.log 2>&1 &
      for _ in $(seq 1 100); do
        curl -sf --max-time 1 --unix-socket /var/run/docker.sock http://docker/_ping >/dev/null 2>&1 && break
        sleep 0.2
      done
    fi
  fi
}
