#!/usr/bin/env bash
# `npm run demo`: the whole stack on one machine. Installs what is missing, starts NATS, Redis and ClickHouse,
# creates the schema, starts the processor and realistic demo traffic, and prints the wall's address.
# Stop with Ctrl-C: the processor shuts down cleanly (commit, acknowledge).
#
# Environment: DEMO_CUSTOMERS (5000), DEMO_RATE events/s (200), DEMO_HISTORY_DAYS (30), DEMO_DURATION_S (0 = until stopped),
#              DEMO_FRESH (1: `vigil reset` the demo's stream, checkpoint, database and Redis keys first),
#              VIGIL_WALL__PORT (8080) and any other VIGIL_* override.
#              VIGIL_ALERTS__ALERTMANAGER__URLS: where alerts go; by default the Alertmanager scripts/services.sh
#              started on 127.0.0.1:9093 when it answers ("" sends to none).
#              DEMO_LOG_DIR (.vigil): where processor.log and simulator.log go; DEMO_SKIP_INSTALL=1 never runs `npm install`.
#              DEMO_DEFECT_WAVE (1: one product is defective from 10 days before the history's end for 14 days, so the
#              wall's experience panel shows it; 0: none), DEMO_DEFECT_PRODUCT, DEMO_DEFECT_START_DAY, DEMO_DEFECT_DAYS.
set -euo pipefail
cd "$(dirname "$0")/.."
logs="${DEMO_LOG_DIR:-.vigil}"
mkdir -p .vigil "$logs"

if [[ "${DEMO_SKIP_INSTALL:-0}" != 1 ]] && [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm install --no-audit --no-fund
fi
bash scripts/services.sh
# The demo's alerts go to the local Alertmanager too, so they can be routed, grouped and silenced there.
if [[ -z "${VIGIL_ALERTS__ALERTMANAGER__URLS+set}" ]] && curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:9093/-/ready; then
  export VIGIL_ALERTS__ALERTMANAGER__URLS=http://127.0.0.1:9093
fi
npx tsc -p tsconfig.build.json
# The wall page (TypeScript in src/wall/page/src) bundled into dist/wall/page, which the processor serves.
node dist/wall/pageBundle.js
# Each demo starts fresh (DEMO_FRESH=0 keeps the last one's data): history published into a stream that already
# holds a later run's events would only be late, since windows follow event time.
if [[ "${DEMO_FRESH:-1}" != 0 ]]; then node dist/cli/vigil.js reset --yes; fi
node dist/cli/vigil.js migrate >/dev/null

port="${VIGIL_WALL__PORT:-8080}"
# The processor refits the purchase models on its own (signals.model.refit): every 10 minutes in the demo, on 100 new
# purchases, so the wall shows a fitted version soon after the history is in.
export VIGIL_SIGNALS__MODEL__REFIT__ENABLED="${VIGIL_SIGNALS__MODEL__REFIT__ENABLED:-true}"
export VIGIL_SIGNALS__MODEL__REFIT__INTERVAL_MS="${VIGIL_SIGNALS__MODEL__REFIT__INTERVAL_MS:-600000}"
node dist/cli/vigil.js run >"$logs/processor.log" 2>&1 &
processor=$!
sim=""
# Ctrl-C reaches the processor twice: SIGINT from the terminal (the whole foreground process group) and SIGTERM from
# here. The processor takes a different signal right after the first as the same request (src/main.ts).
cleanup() {
  [[ -n "$sim" ]] && kill "$sim" 2>/dev/null || true
  [[ -z "$processor" ]] && return 0
  kill -TERM "$processor" 2>/dev/null || true
  local code=0
  wait "$processor" 2>/dev/null || code=$?
  processor=""
  echo "processor stopped (exit $code); see $logs/processor.log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:${port}/readyz" >/dev/null 2>&1 && break
  kill -0 "$processor" 2>/dev/null || { echo "processor exited; see $logs/processor.log" >&2; tail -20 "$logs/processor.log" >&2; exit 1; }
  sleep 0.3
done

wave=(--no-defect-wave)
if [[ "${DEMO_DEFECT_WAVE:-1}" != 0 ]]; then
  wave=(--defect-wave --defect-days "${DEMO_DEFECT_DAYS:-14}")
  if [[ -n "${DEMO_DEFECT_PRODUCT:-}" ]]; then wave+=(--defect-product "$DEMO_DEFECT_PRODUCT"); fi
  if [[ -n "${DEMO_DEFECT_START_DAY:-}" ]]; then wave+=(--defect-start-day "$DEMO_DEFECT_START_DAY"); fi
fi
node dist/cli/vigil.js simulate --customers "${DEMO_CUSTOMERS:-5000}" --rate "${DEMO_RATE:-200}" \
  --history-days "${DEMO_HISTORY_DAYS:-30}" --duration "${DEMO_DURATION_S:-0}" "${wave[@]}" >"$logs/simulator.log" \
  2> >(tee -a "$logs/simulator.log" >&2) &
# (the history's progress lines, on the simulator's stderr, show here as well as in its log)
sim=$!

echo
echo "Vigil is running."
echo "  wall:     http://127.0.0.1:${port}/"
echo "  metrics:  http://127.0.0.1:${port}/metrics"
if [[ -n "${VIGIL_ALERTS__ALERTMANAGER__URLS:-}" ]]; then echo "  alerts:   also in Alertmanager, ${VIGIL_ALERTS__ALERTMANAGER__URLS}"; fi
echo "  logs:     $logs/processor.log, $logs/simulator.log"
echo "  data:     ClickHouse database '${VIGIL_CLICKHOUSE__DATABASE:-vigil}' on http://127.0.0.1:8123"
echo "Ctrl-C stops it."
if [[ "${DEMO_DURATION_S:-0}" != 0 ]]; then wait "$sim"; sleep 3; else wait "$processor"; fi
