#!/usr/bin/env bash
# The read-only analyst user for ClickHouse servers that define users in XML only (18.16 has no CREATE USER;
# from 20.8 migration 0012 creates the same user with SQL). The password comes from the environment and the
# file keeps only its SHA-256; the user may read one database, change no data and no schema (readonly = 2
# still lets clients such as Grafana set query settings), from loopback only.
#
#   VIGIL_CLICKHOUSE__ANALYST__PASSWORD=... scripts/clickhouse-analyst.sh [FILE]
#
# FILE defaults to /etc/clickhouse-server/users.d/vigil-analyst.xml; the server picks the change up by itself
# within seconds. VIGIL_CLICKHOUSE__ANALYST__USER (vigil_analyst) and VIGIL_CLICKHOUSE__DATABASE (vigil) as in
# the config.
set -euo pipefail

user="${VIGIL_CLICKHOUSE__ANALYST__USER:-vigil_analyst}"
database="${VIGIL_CLICKHOUSE__DATABASE:-vigil}"
password="${VIGIL_CLICKHOUSE__ANALYST__PASSWORD:-}"
out="${1:-/etc/clickhouse-server/users.d/vigil-analyst.xml}"

if [[ -z "$password" ]]; then
  echo "clickhouse-analyst: set VIGIL_CLICKHOUSE__ANALYST__PASSWORD (the password never goes in a file or an argument)" >&2
  exit 2
fi
name='^[A-Za-z_][A-Za-z0-9_]*$'
if [[ ! "$user" =~ $name || ! "$database" =~ $name ]]; then
  echo "clickhouse-analyst: user and database must match $name" >&2
  exit 2
fi

hash=$(printf '%s' "$password" | sha256sum | cut -d' ' -f1)
mkdir -p "$(dirname "$out")"
tmp="$(mktemp "$(dirname "$out")/.vigil-analyst.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
cat >"$tmp" <<XML
<?xml version="1.0"?>
<!-- Written by Vigil's scripts/clickhouse-analyst.sh: a read-only user for analysts and Grafana. -->
<yandex>
    <profiles>
        <${user}_profile>
            <readonly>2</readonly>
            <max_execution_time>300</max_execution_time>
        </${user}_profile>
    </profiles>
    <users>
        <${user}>
            <password_sha256_hex>${hash}</password_sha256_hex>
            <profile>${user}_profile</profile>
            <quota>default</quota>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <allow_databases>
                <database>${database}</database>
            </allow_databases>
        </${user}>
    </users>
</yandex>
XML
# Readable by the server, not by everyone: even a password hash is worth keeping to ourselves.
if id clickhouse >/dev/null 2>&1; then chown root:clickhouse "$tmp"; fi
chmod 640 "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "clickhouse-analyst: user $user may read database $database ($out)"
