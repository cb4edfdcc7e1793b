#!/usr/bin/env bash
# The gateway benchmark: dockgate side by side with the engine's own TCP listener (direct),
# socat (the seed's recipe) and HAProxy with Tecnativa docker-socket-proxy's configuration,
# on one private engine. Results: bench/results/gateway-<date>.md and .json.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
debian_packages docker.io busybox-static socat haproxy wrk curl
npm_dependencies
# 5,000 idle streams need 10,000 descriptors in the proxy (client + engine side): raise to the hard limit.
ulimit -n "$(ulimit -Hn)"
# `bench/run.sh policy [--quick]`: the overhead of access control (bench/policy-bench.ts).
if [ "${1:-}" = policy ]; then
  shift
  exec node --import tsx bench/policy-bench.ts "$@"
fi
# `bench/run.sh monitor`: what watching 200 containers costs (bench/monitor-bench.ts).
if [ "${1:-}" = monitor ]; then
  shift
  exec node --import tsx bench/monitor-bench.ts "$@"
fi
# `bench/run.sh terminal`: the terminal's echo latency and throughput (bench/terminal-bench.ts).
if [ "${1:-}" = terminal ]; then
  shift
  exec node --import tsx bench/terminal-bench.ts "$@"
fi
exec node --import tsx bench/gateway-bench.ts "$@"
