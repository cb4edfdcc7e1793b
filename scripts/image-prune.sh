#!/bin/sh
# Trims an image's /app (dist + production node_modules) of what never runs: type declarations,
# source maps, TypeScript sources, docs, and better-sqlite3's sources and build leftovers (only
# build/Release/better_sqlite3.node is loaded). Used by the Dockerfile and scripts/image.sh alike.
# POSIX sh and busybox find: it also runs inside the offline base image.
set -eu
app=${1:?usage: image-prune.sh APP_DIR}
find "$app" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \
  -o -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.md' -o -name '*.markdown' \) -delete
sqlite="$app/node_modules/better-sqlite3"
if [ -d "$sqlite" ]; then
  rm -rf "$sqlite/deps" "$sqlite/src" "$sqlite/build/Release/obj" "$sqlite/build/Release/obj.target" \
    "$sqlite/build/Release/.deps" "$sqlite/build/Release/sqlite3.a" "$sqlite/build/Release/test_extension.node" \
    "$sqlite/build/deps" "$sqlite/build/Makefile" "$sqlite/build/config.gypi" "$sqlite/build"/*.mk
fi
find "$app/node_modules" -depth -type d \( -name test -o -name tests -o -name __tests__ -o -name example -o -name examples -o -name benchmark -o -name benchmarks \) -exec rm -rf {} +
