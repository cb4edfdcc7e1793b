#!/usr/bin/env bash
# What CI does, from this checkout: clone the committed HEAD into a new `mktemp -d` directory
# (mode 0700, as a clone in root's home is — other users cannot traverse it), put shared/ beside
# it as CI has it, and run .ci/run there. Uncommitted changes are not in the clone: commit first.
#   bash scripts/fresh-clone.sh [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
here="$(pwd)"
parent="$(mktemp -d /tmp/dockgate-fresh-XXXXXX)"
chmod 700 "$parent"
keep=0
[ "${1:-}" = --keep ] && keep=1
cleanup() { [ "$keep" = 1 ] || rm -rf "$parent"; }
trap cleanup EXIT
git clone -q "$here" "$parent/main"
if [ -d "$here/../shared" ]; then ln -s "$(cd "$here/../shared" && pwd)" "$parent/shared"; fi
echo "fresh clone of $(git rev-parse --short HEAD) in $parent/main (mode $(stat -c %a "$parent"))"
cd "$parent/main"
bash .ci/run
