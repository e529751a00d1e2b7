# syntax=docker/dockerfile:1
#
# Apple MDM check-in server.
#
#   docker build -t mdm-checkin .
#   docker run --rm -p 8080:8080 -v mdm-data:/data \
#     -v "$PWD/device-ca.pem:/etc/mdm/device-ca.pem:ro" -e DEVICE_CA_FILE=/etc/mdm/device-ca.pem \
#     -e SECRETS_KEY="$(openssl rand -base64 32)" -e ADMIN_API_KEY="$(openssl rand -base64 32)" mdm-checkin
#
# NODE_ENV=production makes SECRETS_KEY and DEVICE_CA_FILE (the CA of the devices' identity
# certificates) mandatory: without them the process exits with code 78.
# Keep the same SECRETS_KEY for the life of the database; stored secrets are encrypted with it.
# The server runs as the image's `node` user (uid 1000): a bind-mounted /data must be writable by it.
# The default DATABASE_URL is an SQLite file in the /data volume (one container only); point
# DATABASE_URL at MySQL 8 / MariaDB 10.11+ (mysql://user:pass@host:3306/mdm) to run several.

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: all dependencies, compile TypeScript, then drop the dev dependencies -------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# better-sqlite3 downloads a prebuilt binary when one matches, and compiles from source with
# node-gyp otherwise; the compiler toolchain stays in this stage only.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*

COPY package.json package-lock.json ./
# npm 10 (bundled with Node 20) runs every install script; npm 11 runs only those approved in
# package.json "allowScripts" (better-sqlite3 is). Either way the native module must load:
# the check right after the install fails the build early instead of the container at start-up.
RUN npm ci --no-audit --no-fund \
  && node -e "new (require('better-sqlite3'))(':memory:').close()"

# `npm run build` is `nest build`: the Nest CLI (a dev dependency) compiles with tsc as
# nest-cli.json and tsconfig.build.json say, into dist/.
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# After pruning, drop better-sqlite3's SQLite sources and object files (about 25 MB when it was
# compiled here); only build/Release/better_sqlite3.node is loaded at run time.
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund \
  && (cd node_modules/better-sqlite3 \
    && rm -rf deps src build/deps build/Release/obj build/Release/obj.target build/Release/.deps \
      build/Release/sqlite3.a build/Release/test_extension.node) \
  && node -e "new (require('better-sqlite3'))(':memory:').close()"

# --- runtime: compiled code and production dependencies, no toolchain, not root -------------
FROM ${NODE_IMAGE} AS runtime

# tini as PID 1 forwards SIGTERM to node and reaps zombies. Without it node would be PID 1,
# where the kernel drops signals that have no handler: Nest's shutdown hook closes the app and
# then re-sends SIGTERM to itself to exit, which PID 1 ignores, so the process would only end
# once nothing (no open socket, no timer) keeps its event loop alive.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/* \
  && mkdir -p /data \
  && chown node:node /data

ENV NODE_ENV=production \
    PORT=8080 \
    DATABASE_URL=sqlite:/data/mdm.sqlite \
    DATA_DIR=/data

WORKDIR /app
# Owned by root and read-only for the `node` user that runs the server.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

USER node
VOLUME ["/data"]
EXPOSE 8080

# Liveness only (the process serves HTTP); readiness with the database is GET /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--"]
# A bounded old space keeps the heap (and RSS) near what the service needs; see docs/performance.md.
CMD ["node", "--max-old-space-size=256", "dist/main.js"]
