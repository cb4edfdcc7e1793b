#!/usr/bin/env bash
# Builds the dockgate image with no registry: the base image is made here from this host's Node
# runtime (stripped) and its shared libraries, plus Debian's static busybox (sh, env — for the
# Dockerfile's RUN and for `docker exec … sh`), imported with `docker import`; dist/ and the
# production dependencies are built on the host and sent as prebuilt/. The same Dockerfile builds
# online from node:20 (docker build .). Classic builder: there is no BuildKit here.
#
#   bash scripts/image.sh [TAG]        (default dockgate:dev; DOCKER_HOST says which engine)
#
# Prints the image's size and what makes it up.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tag=${1:-dockgate:dev}
work=$(mktemp -d /tmp/dockgate-image.XXXXXX)
trap 'rm -rf "$work"' EXIT

# --- the context: Dockerfile + prebuilt/ -----------------------------------------------------------
ctx=$work/context
mkdir -p "$ctx/prebuilt" "$ctx/scripts"
cp Dockerfile "$ctx/"
cp scripts/image-prune.sh "$ctx/scripts/"
npm run --silent build >/dev/null
cp -a package.json package-lock.json dist presets "$ctx/prebuilt/"
# Production dependencies: a copy of node_modules pruned (native modules stay as built here, for
# this glibc and this Node: the base carries both).
cp -a node_modules "$ctx/prebuilt/"
(cd "$ctx/prebuilt" && npm prune --omit=dev --no-audit --no-fund >/dev/null 2>&1)
rm -f "$ctx/prebuilt/package-lock.json"
sh scripts/image-prune.sh "$ctx/prebuilt"

# --- the base: node + its libraries + busybox ------------------------------------------------------
node_bin=$(command -v node)
busybox=""
for candidate in /bin/busybox /usr/bin/busybox; do
  if [ -x "$candidate" ] && ! ldd "$candidate" >/dev/null 2>&1; then busybox=$candidate; break; fi
done
[ -n "$busybox" ] || { echo "image.sh: needs Debian's static busybox (apt-get install busybox-static)" >&2; exit 1; }
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,usr/bin,usr/local/bin,etc,tmp,lib64,root}
chmod 1777 "$rootfs/tmp"
strip --strip-unneeded -o "$rootfs/usr/local/bin/node" "$node_bin"
# Every shared library node and the native modules (better-sqlite3, argon2) load, and the
# loader, at the same paths.
natives=$(find "$ctx/prebuilt/node_modules" -name '*.node' -type f)
for lib in $(for f in "$node_bin" $natives; do ldd "$f" | grep -o '/[^ ]*'; done | sort -u); do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
cp "$busybox" "$rootfs/bin/busybox"
for applet in sh env ls cat ps mkdir chown chmod ln mv cp rm find id stat; do
  ln -s /bin/busybox "$rootfs/bin/$applet"
done
ln -s /bin/env "$rootfs/usr/bin/env"
cat >"$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
dockgate:x:10001:10001:dockgate:/data:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$rootfs/etc/group" <<'GROUP'
root:x:0:
dockgate:x:10001:
nogroup:x:65534:
GROUP
echo 'hosts: files dns' >"$rootfs/etc/nsswitch.conf"
base_hash=$(cd "$rootfs" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
base="dockgate-base/node20:$base_hash"
if ! docker image inspect "$base" >/dev/null 2>&1; then
  tar -C "$rootfs" -c . | docker import --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' - "$base" >/dev/null
fi
echo "base image $base ($(docker image inspect -f '{{.Size}}' "$base" | awk '{printf "%.1f MB", $1/1e6}'))"

version=$(node -p "require('./package.json').version")
DOCKER_BUILDKIT=0 docker build -q \
  --build-arg BASE_IMAGE="$base" --build-arg BUILD_IMAGE="$base" --build-arg VERSION="$version" \
  -t "$tag" "$ctx" >/dev/null

size=$(docker image inspect -f '{{.Size}}' "$tag")
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
libs=$(du -sb "$rootfs/lib" "$rootfs/lib64" 2>/dev/null | awk '{ s += $1 } END { print s }')
echo "image $tag: $(mb "$size") — node $(mb "$(stat -c %s "$rootfs/usr/local/bin/node")") (stripped)," \
  "shared libraries $(mb "$libs"), busybox $(mb "$(stat -c %s "$busybox")")," \
  "node_modules $(mb "$(du -sb "$ctx/prebuilt/node_modules" | cut -f1)"), dist $(mb "$(du -sb "$ctx/prebuilt/dist" | cut -f1)")"
