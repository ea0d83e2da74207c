# One image for the worker and the API: `docker run IMAGE` serves the API, `docker run IMAGE
# node dist/worker/main.js` the worker (docker-compose.yml and deploy/k8s/ pick the command).
# Build stage: dev dependencies, TypeScript compiled ahead to dist/, the workflow bundle written to a
# file. Runtime stage: production dependencies and dist/ only; no tsx. The worker starts from the
# prebuilt bundle, except with payload encryption or tracing on: those need their own bundle, made at
# start (a few seconds of webpack).
ARG NODE_IMAGE=node:22.20.0-bookworm-slim

FROM ${NODE_IMAGE} AS build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit
COPY tsconfig.json tsconfig.build.json ./
COPY common ./common
COPY lib ./lib
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
COPY api ./api
COPY scripts/build-workflow-bundle.ts ./scripts/
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
# Memory (docs/design.md, "Bounded worker memory"): two malloc arenas instead of one per thread for
# the Temporal core's threads, and a 4 MB young generation per V8 isolate (the worker has two: its
# main thread and the workflow thread) instead of 16 MB. Together about 90 MB less worker RSS.
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    MALLOC_ARENA_MAX=2 \
    NODE_OPTIONS=--max-semi-space-size=4 \
    WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
WORKDIR /app
COPY package.json package-lock.json ./
# Only this platform's native Temporal core is kept: the SDK ships four more prebuilt ones (about
# 110 MB) and its Rust sources. Loading the SDK at the end proves the one kept is the right one.
RUN npm ci --omit=dev --no-audit && npm cache clean --force \
 && bridge=node_modules/@temporalio/core-bridge \
 && keep="$(node -p "require('./$bridge/common.js').getPrebuiltTargetName()")" \
 && find "$bridge/releases" -mindepth 1 -maxdepth 1 ! -name "$keep" -exec rm -rf {} + \
 && rm -rf "$bridge/sdk-core" "$bridge/src" \
 && node -e "require('@temporalio/worker')"
COPY --from=build /src/dist ./dist

# node's own unprivileged user (uid 1000); nothing is written outside /tmp at run time.
USER node

# The API, the worker's metrics, the worker's health endpoints (HEALTH_PORT in compose and Kubernetes).
EXPOSE 3000 9464 8080
# Node handles SIGTERM itself (graceful drain), whether it runs as PID 1 (Kubernetes) or under
# compose's `init: true`.
CMD ["node", "dist/api/main.js"]
