#!/usr/bin/env bash
# Brings up the local services Vigil's integration tests and demo need (NATS with JetStream, Redis,
# ClickHouse, and Prometheus's promtool and Alertmanager from Debian's packages) on 127.0.0.1, without Docker;
# idempotent, and quick when everything already answers. The Prometheus and Alertmanager tests start their own
# instances on free ports; the Alertmanager started here (127.0.0.1:9093) is for the demo and for trying things.
#
#   scripts/services.sh            start whatever is down, print one line per service
#   scripts/services.sh status     only print the state of each service
#
# Environment:
#   VIGIL_SKIP_NATS=1, VIGIL_SKIP_REDIS=1, VIGIL_SKIP_CLICKHOUSE=1   leave that service alone
#   VIGIL_SKIP_PROMETHEUS=1                                          neither install Prometheus/Alertmanager nor start it
#   VIGIL_SERVICES_TIMEOUT_S=60                                      how long to wait for a service to answer
set -euo pipefail

mode="${1:-up}"
case "$mode" in
  up | status) ;;
  *) echo "usage: $0 [up|status]" >&2; exit 2 ;;
esac

timeout_s="${VIGIL_SERVICES_TIMEOUT_S:-60}"
failed=0

say() { printf '%-11s %s\n' "$1" "$2"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for <seconds> <command...>: polls every 0.2 s until the command succeeds.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    ((SECONDS >= deadline)) && return 1
    sleep 0.2
  done
}

# --- NATS ------------------------------------------------------------------------------------
# The server's INFO line, sent on connect, says whether JetStream is on.
nats_info() { (exec 3<>/dev/tcp/127.0.0.1/4222 && read -r -t 2 line <&3 && echo "$line") 2>/dev/null || true; }

nats_state() {
  local info; info="$(nats_info)"
  if [[ -z "$info" ]]; then echo down
  elif [[ "$info" == *'"jetstream":true'* ]]; then echo up
  else echo no-jetstream
  fi
}

ensure_nats() {
  local state; state="$(nats_state)"
  if [[ "$mode" == up && "$state" == down ]]; then
    if ! command -v nats-server >/dev/null; then say nats "missing: install nats-server"; failed=1; return; fi
    mkdir -p /var/lib/nats-server
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
      -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
    wait_for "$timeout_s" port_open 4222 || true
    state="$(nats_state)"
    [[ "$state" == up ]] && state="up (started)"
  fi
  case "$state" in
    up*) say nats "$state 127.0.0.1:4222 jetstream" ;;
    no-jetstream) say nats "running on 127.0.0.1:4222 WITHOUT JetStream: restart it with -js"; failed=1 ;;
    *) say nats "down 127.0.0.1:4222 (log: /var/log/nats-server.log)"; failed=1 ;;
  esac
}

# --- Redis -----------------------------------------------------------------------------------
redis_ok() { [[ "$(timeout 2 redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == PONG ]]; }

ensure_redis() {
  local state=up
  if ! redis_ok; then
    state=down
    if [[ "$mode" == up ]]; then
      if ! command -v redis-server >/dev/null; then say redis "missing: install redis-server"; failed=1; return; fi
      mkdir -p /var/lib/redis /var/log/redis
      redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null
      wait_for "$timeout_s" redis_ok && state="up (started)"
    fi
  fi
  if [[ "$state" == down ]]; then say redis "down 127.0.0.1:6379 (log: /var/log/redis/ci.log)"; failed=1
  else say redis "$state 127.0.0.1:6379"; fi
}

# --- ClickHouse ------------------------------------------------------------------------------
ch_conf_dir=/etc/clickhouse-server
ch_pid_dir=/var/run/clickhouse-server
ch_log_dir=/var/log/clickhouse-server
ch_data_dir=/var/lib/clickhouse

ch_ok() { [[ "$(curl -s --max-time 2 http://127.0.0.1:8123/ping 2>/dev/null)" == Ok.* ]]; }

# True once ClickHouse answers, or once its daemon has died (so a broken start fails fast).
ch_ok_or_dead() {
  ch_ok && return 0
  local pidfile="$ch_pid_dir/clickhouse-server.pid"
  [[ -s "$pidfile" ]] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null
}

ch_version() { curl -s --max-time 2 'http://127.0.0.1:8123/?query=SELECT%20version()' 2>/dev/null || true; }

install_clickhouse() {
  export DEBIAN_FRONTEND=noninteractive
  local updated=0
  # apt's lists are fetched once; a machine that already has them skips the update...
  if ! apt-cache show clickhouse-server >/dev/null 2>&1; then apt-get update -qq && updated=1; fi
  apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null && return 0
  # ...unless they are stale enough that the download fails: then once more with fresh lists.
  ((updated)) && return 1
  apt-get update -qq && apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
}

# Loopback only, UTC, and our own data, log and pid locations; `yandex` is the root tag 18.x
# needs and current servers still accept.
write_clickhouse_config() {
  mkdir -p "$ch_conf_dir/config.d"
  cat >"$ch_conf_dir/config.d/vigil.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by Vigil's scripts/services.sh: loopback only, UTC. -->
<yandex>
    <listen_host>127.0.0.1</listen_host>
    <http_port>8123</http_port>
    <tcp_port>9000</tcp_port>
    <timezone>UTC</timezone>
    <path>$ch_data_dir/</path>
    <tmp_path>$ch_data_dir/tmp/</tmp_path>
    <user_files_path>$ch_data_dir/user_files/</user_files_path>
    <logger>
        <level>warning</level>
        <log>$ch_log_dir/clickhouse-server.log</log>
        <errorlog>$ch_log_dir/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
</yandex>
EOF
}

start_clickhouse() {
  write_clickhouse_config
  mkdir -p "$ch_pid_dir" "$ch_log_dir" "$ch_data_dir"
  local user=root
  if id clickhouse >/dev/null 2>&1; then
    user=clickhouse
    chown -R clickhouse:clickhouse "$ch_pid_dir" "$ch_log_dir" "$ch_data_dir"
  fi
  local pidfile="$ch_pid_dir/clickhouse-server.pid"
  if [[ -s "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    return 0 # already starting: only wait for it
  fi
  rm -f "$pidfile"
  runuser -u "$user" -- clickhouse-server --config-file="$ch_conf_dir/config.xml" \
    --pid-file="$pidfile" --daemon >/dev/null 2>"$ch_log_dir/start.err" && return 0
  cat "$ch_log_dir/start.err" >&2; return 1
}

ensure_clickhouse() {
  if ch_ok; then say clickhouse "up 127.0.0.1:8123 version $(ch_version)"; return; fi
  if [[ "$mode" == status ]]; then say clickhouse "down 127.0.0.1:8123"; failed=1; return; fi
  if ! command -v clickhouse-server >/dev/null; then
    if ! install_clickhouse; then say clickhouse "missing: apt-get install clickhouse-server failed"; failed=1; return; fi
  fi
  if ! start_clickhouse; then
    say clickhouse "failed to start (see $ch_log_dir/stdout.log)"; failed=1; return
  fi
  if wait_for "$timeout_s" ch_ok_or_dead && ch_ok; then
    say clickhouse "up (started) 127.0.0.1:8123 version $(ch_version)"
  else
    say clickhouse "did not answer /ping within ${timeout_s}s (see $ch_log_dir/clickhouse-server.err.log and stderr.log)"
    failed=1
  fi
}

# The read-only analyst user when VIGIL_CLICKHOUSE__ANALYST__PASSWORD is set: written to users.d on servers
# without SQL access control (before 20.8); newer servers get it from the processor's migration 0012.
ensure_clickhouse_analyst() {
  [[ -n "${VIGIL_CLICKHOUSE__ANALYST__PASSWORD:-}" && "$mode" != status ]] || return 0
  ch_ok || return 0
  local v major minor
  v=$(ch_version); major=${v%%.*}; minor=${v#*.}; minor=${minor%%.*}
  if (( major < 20 || (major == 20 && minor < 8) )); then
    bash "$(dirname "$0")/clickhouse-analyst.sh" "$ch_conf_dir/users.d/vigil-analyst.xml" >/dev/null && say clickhouse "analyst user ${VIGIL_CLICKHOUSE__ANALYST__USER:-vigil_analyst} (users.d)"
  fi
}

# --- Prometheus and Alertmanager (Debian's packages) --------------------------------------------
am_port=9093
am_dir=/var/lib/vigil-alertmanager
am_ok() { [[ "$(curl -s --max-time 2 "http://127.0.0.1:$am_port/-/ready" 2>/dev/null)" == OK* ]]; }

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  local updated=0
  if ! apt-cache show "$@" >/dev/null 2>&1; then apt-get update -qq && updated=1; fi
  # No recommends: the node exporter and the rest are not needed; the packages' own services are not used.
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null && return 0
  ((updated)) && return 1
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_prometheus() {
  local missing=()
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
  if ((${#missing[@]})); then
    if [[ "$mode" == status ]]; then say prometheus "missing: ${missing[*]}"; failed=1; return; fi
    if ! apt_install "${missing[@]}"; then say prometheus "missing: apt-get install ${missing[*]} failed"; failed=1; return; fi
  fi
  say prometheus "$(prometheus --version 2>&1 | head -1 | awk '{print $3}') (promtool, started by the tests on free ports)"
  if ! am_ok && [[ "$mode" == up ]]; then
    mkdir -p "$am_dir/data"
    [[ -s "$am_dir/alertmanager.yml" ]] || cp "$(dirname "$0")/../dashboards/alertmanager/alertmanager.yml" "$am_dir/alertmanager.yml"
    start-stop-daemon --start --oknodo --background --make-pidfile --pidfile "$am_dir/pid" --exec /usr/bin/prometheus-alertmanager -- \
      --config.file="$am_dir/alertmanager.yml" --storage.path="$am_dir/data" \
      --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= --log.level=warn
    wait_for "$timeout_s" am_ok || true
  fi
  if am_ok; then say alertmanager "up 127.0.0.1:$am_port"; else say alertmanager "down 127.0.0.1:$am_port"; failed=1; fi
}

[[ "${VIGIL_SKIP_NATS:-}" == 1 ]] && say nats skipped || ensure_nats
[[ "${VIGIL_SKIP_REDIS:-}" == 1 ]] && say redis skipped || ensure_redis
[[ "${VIGIL_SKIP_CLICKHOUSE:-}" == 1 ]] && say clickhouse skipped || { ensure_clickhouse; ensure_clickhouse_analyst; }

[[ "${VIGIL_SKIP_PROMETHEUS:-}" == 1 ]] && say prometheus skipped || ensure_prometheus

exit "$failed"
