# One image for every Scoreline process; compose.yaml (and deploy/k8s) choose which by the command:
#   node --import tsx services/line-provider/src/main.ts        line-provider, gRPC on 50051
#   node --import tsx services/score-maker/src/main-api.ts      score-maker API, HTTP on 8002 (default)
#   node --import tsx services/score-maker/src/main-worker.ts   score-maker worker, health on 8003
#   node --import tsx deploy/migrate.ts                         both schemas, then exit
# The services have no build step: they run their TypeScript through tsx, and the generated gRPC code is
# committed (packages/contracts/src/gen). Only the web app is built (web/dist).
#
#   docker build -t scoreline:local .

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- dependencies: rebuilt only when a package.json or the lockfile changes ---------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/contracts/package.json packages/contracts/
COPY packages/platform/package.json packages/platform/
COPY services/line-provider/package.json services/line-provider/
COPY services/score-maker/package.json services/score-maker/
# Plain `npm ci`, devDependencies included: tsx, which runs every process, is a devDependency of the root
# package, and `--omit=dev` would leave it out. (Moving tsx into the services' dependencies would allow
# --omit=dev and a much smaller image.)
# The root package's postinstall prepares the quick start from sources not copied yet: left out here.
RUN npm pkg delete scripts.postinstall && npm ci --no-audit --no-fund && npm cache clean --force

# ---- runtime ----------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# node_modules at the root and inside workspaces (npm nests a package there when versions differ), then
# the sources over them; .dockerignore keeps the host's node_modules, .env and data folders out.
COPY --from=deps /app ./
COPY . .
# The web app the API serves at `/` (Vite, a devDependency: built here, served as static files).
RUN npm run build:web
# Root owns the files, read-only to the process; it writes only to /tmp (tsx's compile cache).
USER node
# 8002 score-maker API, 50051 line-provider gRPC, 8003 score-maker worker health and metrics, 8001
# line-provider health and metrics.
EXPOSE 8002 50051 8003 8001
CMD ["node", "--import", "tsx", "services/score-maker/src/main-api.ts"]
