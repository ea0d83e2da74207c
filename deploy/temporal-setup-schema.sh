#!/bin/sh
# One-shot set-up for docker-compose.yml (runs in temporalio/admin-tools before the server starts):
# creates the `temporal` and `temporal_visibility` databases on PostgreSQL and brings both schemas up
# to the versions this admin-tools release carries. Safe to run on every `docker compose up`: an
# existing database is kept, `setup-schema -v 0.0` leaves a newer schema alone, and `update-schema`
# applies only the versions not yet applied (so upgrading the images also upgrades the schema).
set -eu

: "${POSTGRES_SEEDS:?set POSTGRES_SEEDS to the PostgreSQL host}"
: "${POSTGRES_USER:?set POSTGRES_USER}"
: "${SQL_PASSWORD:?set SQL_PASSWORD to the PostgreSQL password}"
PORT="${DB_PORT:-5432}"
SCHEMA_DIR="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$PORT" -u "$POSTGRES_USER" "$@"
}

for pair in "temporal:temporal" "temporal_visibility:visibility"; do
  db="${pair%%:*}"
  dir="${pair#*:}"
  echo "temporal-schema: database $db"
  sql --db "$db" create
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "$SCHEMA_DIR/$dir/versioned"
done
echo "temporal-schema: both schemas are current"
