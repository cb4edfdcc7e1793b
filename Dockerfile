# dockgate: the Docker Engine API gateway (and monitor) as a container — a drop-in for the socat
# recipe (bobrik/socat … TCP-LISTEN:2375,fork UNIX-CONNECT:/var/run/docker.sock) and for
# Tecnativa's docker-socket-proxy, safe by default: read-only unless a token grants more.
#
#   docker build -t dockgate .                     # online: from the official node:20 images
#   bash scripts/image.sh                          # offline: a base imported from this host (BASE_IMAGE)
#
# Builds with BuildKit and with the classic builder (DOCKER_BUILDKIT=0): no RUN --mount, no heredocs.

ARG BASE_IMAGE=node:20-bookworm-slim
ARG BUILD_IMAGE=node:20-bookworm

# --- build: dist/ and the production dependencies, in /app ---------------------------------------
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY . .
# scripts/image.sh sends a context with prebuilt/ (built on the host, no registry needed);
# otherwise everything is built here from package-lock.json.
RUN if [ -d prebuilt ]; then \
      mv prebuilt /app; \
    else \
      npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev --no-audit --no-fund && \
      mkdir /app && cp -a package.json dist node_modules presets /app/ && sh scripts/image-prune.sh /app; \
    fi

# --- runtime: Node 20, dist/, production dependencies; nothing else --------------------------------
FROM ${BASE_IMAGE}
ARG VERSION=dev
LABEL org.opencontainers.image.title="dockgate" \
      org.opencontainers.image.description="A safe, byte-transparent gateway to the Docker Engine API (a drop-in for socat and docker-socket-proxy), and a monitor for the containers behind it" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/dockgate/dockgate" \
      org.opencontainers.image.documentation="https://github.com/dockgate/dockgate#run-it-as-a-container"

COPY --from=build /app /opt/dockgate
# dockgate starts as root only to read the engine socket's group, then runs as DOCKGATE_USER with
# that group added (src/cli/drop-privileges.ts): the socat compose file works unchanged. To never
# start as root: --user 10001:10001 --group-add $(stat -c %g /var/run/docker.sock).
RUN chmod 0755 /opt/dockgate/dist/cli/main.js && \
    ln -s /opt/dockgate/dist/cli/main.js /usr/local/bin/dockgate && \
    mkdir -p /data /run/dockgate && chown 10001:10001 /data /run/dockgate && chmod 0700 /data

# The gateway: all interfaces, port 2375, the host's socket, read-only for callers without a token
# (protected mode allows that); tokens and the monitor's history in /data. Stopped within
# docker's 10 s: the grace is shorter. The host's figures (GET /dockgate/v1/host) from /host when
# it is mounted (-v /:/host:ro), else only what any procfs says (docs/hosts.md).
# Every option: DOCKGATE_<OPTION> (docs/distribution.md).
ENV NODE_ENV=production \
    DOCKGATE_USER=10001:10001 \
    DOCKGATE_LISTEN=tcp://0.0.0.0:2375 \
    DOCKGATE_PROFILE=read-only \
    DOCKGATE_TOKENS=/data/tokens.json \
    DOCKGATE_SHUTDOWN_GRACE=8 \
    DOCKGATE_TECNATIVA_ENV=auto \
    DOCKGATE_HOST_ROOT=auto \
    DOCKGATE_MONITOR_DATA=/data

# /run/dockgate: where a unix socket listener goes, for a volume shared with its callers (a new
# volume takes this directory's owner, so the gateway may create its socket there).
VOLUME ["/data"]
EXPOSE 2375
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["dockgate", "health"]
ENTRYPOINT ["dockgate"]
CMD ["serve"]
