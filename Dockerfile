# jit: just-in-time access approved in Slack.
#   docker build -t jit .
#   docker run --env-file .env -v "$PWD/jit.config.yaml:/config/jit.config.yaml:ro" -p 3000:3000 jit
# (or: docker compose up, see docker-compose.yml)

ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build: install everything, generate the Prisma client, compile, drop dev dependencies ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NODE_ENV=development
COPY package.json package-lock.json ./
# postinstall runs scripts/prisma-generate.mjs, which needs the script and the schema.
COPY scripts ./scripts
COPY prisma ./prisma
COPY prisma.config.ts ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The client was generated into src/generated/ by postinstall; tsc compiles it into dist/ with the rest.
# (npm keeps the prisma CLI after this prune: it is an optional peer of @prisma/client. Harmless;
# jit applies migrations itself and never runs it.)
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: production dependencies, compiled code, migrations ----
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    PORT=3000 \
    JIT_CONFIG=/config/jit.config.yaml
# package.json marks the package root: migrations are read from <root>/prisma/migrations.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma ./prisma
# Files stay owned by root (read-only to the app); the process runs as the unprivileged node user.
USER node
EXPOSE 3000
# /healthz answers in every role (start --role all|web|worker); slim images have no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The same V8 heap limits as `npm start` (package.json): they keep peak RSS near 250 MB under load.
CMD ["node", "--max-semi-space-size=4", "--max-old-space-size=160", "dist/src/cli.js", "start"]
