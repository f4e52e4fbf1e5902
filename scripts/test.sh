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
echo "== typecheck"
npx tsc -p tsconfig.json --noEmit
echo "== build"
npx tsc -p tsconfig.build.json
echo "== tests"
npx vitest run "$@"
