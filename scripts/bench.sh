#!/usr/bin/env bash
# `npm run bench`: the benchmark (bench/run.ts) against the local NATS, Redis and ClickHouse, which it starts when
# they are down. Everything it creates has its own names (stream, consumers, database, keys) and is removed after.
#
#   npm run bench                  ~10 minutes, 250,000 customers
#   npm run bench -- --quick       a smoke run, ~3 minutes
#   npm run bench -- --full        1,000,000 customers (or VIGIL_BENCH_CUSTOMERS=N / --customers N)
#   npm run bench -- --profile     also writes the processor's CPU profile to bench/results/profiles/
#   npm run bench -- --quick --budget-only   the processor's maximum, then only the contact budget under load
# Results: bench/results/latest-<mode>.json and .md, a dated copy of the JSON, and cost-<mode>.svg.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -d node_modules ]]; then npm ci --no-audit --no-fund; fi
bash scripts/services.sh >&2
# The processor runs compiled, as `vigil run` does (tsx's keepNames wrappers would cost the hot path a little);
# if the tree does not compile, the bench says so and runs the sources through tsx instead.
dist=bench/results/tmp/dist
if npx tsc -p tsconfig.build.json --outDir "$dist" >&2; then
  # dist/ finds its migrations and the wall's page at ../sql and ../src, as the repository's own dist/ does.
  ln -sfn ../../../sql bench/results/tmp/sql
  ln -sfn ../../../src bench/results/tmp/src
  export VIGIL_BENCH_DIST="$dist"
else echo "bench: tsc failed; running the TypeScript sources" >&2; fi
exec node --import tsx bench/run.ts "$@"
