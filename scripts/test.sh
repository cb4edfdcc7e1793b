#!/usr/bin/env bash
# Sets up a fresh Debian machine (as root) and runs the whole test suite: lint, type-check,
# build, unit tests, then integration and conformance tests against a private dockerd.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# docker.io: dockerd for the private test engine and the 20.10 docker CLI (a conformance client);
# busybox-static: the test image's rootfs (no registry is reachable); chromium: the browser the
# dashboard's tests drive (playwright-core with Debian's build, never a downloaded browser).
# binutils: strip, for the offline image's node (scripts/image.sh); docker-compose: the examples'
# drop-ins brought up; systemd: systemd-socket-activate and systemd-analyze; zsh, fish: completion;
# faketime: the clock guard (scripts/test-clock.sh runs the unit tests under other clocks and zones);
# docker-registry: a real registry on loopback for the update checks (distribution 2.8).
debian_packages docker.io busybox-static chromium binutils docker-compose systemd zsh fish faketime docker-registry prometheus prometheus-alertmanager postgresql
npm_dependencies
npm test
