# One image for the worker and the API (docker-compose.yml picks the command). TypeScript runs
# through tsx, a runtime dependency, so there is no build step and dev dependencies stay out.
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false
WORKDIR /app

COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

COPY common ./common
COPY lib ./lib
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
COPY api ./api
COPY tsconfig.json ./

# tsx keeps its transform cache under the temp dir; node's own user owns everything it writes.
USER node

EXPOSE 3000
# `npm run api` without the npm and sh wrappers, so signals reach the process (see docker-compose.yml).
CMD ["node", "--import", "tsx", "api/main.ts"]
