#!/usr/bin/env bash
# Sets up dockgate and runs the gateway against the local Docker engine.
# Extra arguments go to `dockgate serve` (default: --listen tcp://127.0.0.1:2375).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
npm_dependencies

ensure_local_engine

exec node dist/cli/main.js serve "$@"
