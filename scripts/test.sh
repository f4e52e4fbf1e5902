#!/usr/bin/env bash
# `npm test`: everything the tests need, then every test. Works on a fresh machine: installs the npm packages,
# Debian's ClickHouse and Chromium when missing, starts NATS, Redis and ClickHouse on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "== npm install (the pinned versions; see .ci/run for why not npm ci)"
  npm install --no-audit --no-fund
fi
echo "== services"
bash scripts/services.sh
bash scripts/install-chromium.sh
echo "== typecheck (the processor, then the wall page for the browser)"
npx tsc -p tsconfig.json --noEmit
npx tsc -p src/wall/page/tsconfig.json
echo "== build (dist/, then the wall page into dist/wall/page)"
npx tsc -p tsconfig.build.json
node dist/wall/pageBundle.js
echo "== tests"
npx vitest run "$@"
