#!/usr/bin/env bash
# Sets up dockgate and runs the monitor against the local Docker engine: its API on
# http://127.0.0.1:9400, its history in ./dockgate-data. Extra arguments go to `dockgate monitor`
# (--engine NAME=URL, --config monitor.yaml, --data DIR, --listen URL, --interval 10s, …).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
npm_dependencies
ensure_local_engine

exec node dist/cli/main.js monitor "$@"
