-- The read-only user analysts and Grafana connect as: SELECT on this database and nothing else. Created only
-- when clickhouse.analyst.password is set (VIGIL_CLICKHOUSE__ANALYST__PASSWORD); until then these statements
-- wait, recorded as skipped, and run at the first migration that has the password. The migrating user needs
-- access management (CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT=1 in the Docker image).
-- Servers before SQL-driven access control (18.16) define users in XML: scripts/clickhouse-analyst.sh writes
-- the same user to users.d (see docs/clickhouse.md). To change the password later: ALTER USER by hand.

-- requires: 20.8
CREATE USER IF NOT EXISTS {analyst_user} IDENTIFIED WITH sha256_password BY {analyst_password} SETTINGS readonly = 2;

-- requires: 20.8
GRANT SELECT ON {db}.* TO {analyst_user};
