#!/usr/bin/env bash
# Sets up dockgate and runs the gateway against the local Docker engine.
# Extra arguments go to `dockgate serve` (default: --listen tcp://127.0.0.1:2375).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
npm_dependencies

# With no DOCKER_HOST and no engine answering on the standard socket, start the local engine if
# it is installed (machines without systemd, such as CI containers). Its flags keep it off the
# network: no bridge, no iptables changes.
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

exec node dist/cli/main.js serve "$@"
