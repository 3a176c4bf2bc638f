# spruce-sync container image. Every step is one CI runs on each change (.ci/run): `npm ci`, the
# release build and `npm pack` (prepack), then `npm install --omit=dev` of that tarball into an
# empty folder — the package check (npm run test:package) does exactly this and starts the
# result. No image has been built from this file on our machines (they have no container
# engine); see docs/deployment.md.
#
#   docker build -t spruce-sync:0.1.0 .
#   docker run --init -p 8080:8080 -v spruce-sync-data:/data \
#     -v "$PWD/config.yaml:/etc/spruce-sync/config.yaml:ro" spruce-sync:0.1.0

# --- build: compile, pack, and install the tarball as a clinic would ---------------------------
FROM node:20-slim AS build
# better-sqlite3 compiles from source when no prebuilt binary fits (as on our CI machines).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN mkdir /pkg && npm pack --pack-destination /pkg
WORKDIR /app
# Approves better-sqlite3's native build for npm's allowScripts policy (docs/deployment.md).
RUN echo '{"private": true, "allowScripts": {"better-sqlite3": true}}' > package.json \
 && npm install --omit=dev --no-audit --no-fund /pkg/spruce-sync-*.tgz

# --- runtime: the installed package only, as a non-root user ---------------------------------
FROM node:20-slim
ENV NODE_ENV=production \
    SPRUCE_SYNC_HEALTH_URL=http://127.0.0.1:8080/healthz
# `node` (uid 1000) comes with the image; /data holds the SQLite database (and its key), or
# nothing when the config points at PostgreSQL.
RUN mkdir -p /data /etc/spruce-sync && chown node:node /data && chmod 0700 /data
COPY --from=build --chown=root:root /app /app
USER node
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# Liveness: the process serves HTTP. The config must listen on 0.0.0.0:8080 inside the
# container (server: { host: 0.0.0.0, port: 8080 }), or set SPRUCE_SYNC_HEALTH_URL to match.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.SPRUCE_SYNC_HEALTH_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM: stop taking webhooks and jobs, finish the running ones, close the store, exit 0
# (exit 1 past server.shutdownTimeoutMs). Wait longer than that before SIGKILL:
# `docker stop -t 60` / compose `stop_grace_period`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/node_modules/spruce-sync/bin/spruce-sync.js"]
CMD ["start", "--config", "/etc/spruce-sync/config.yaml"]
