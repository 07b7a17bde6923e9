#!/usr/bin/env bash
# PostgreSQL init script (runs once, on the first start of an empty data volume): two databases,
# each owned by its own role. "airflow" holds Airflow's metadata, "opeds" the archive catalog.
# Passwords come from the environment (the stack's .env file), never from this file.
set -euo pipefail
: "${AIRFLOW_DB_PASSWORD:?set AIRFLOW_DB_PASSWORD in .env}"
: "${OPEDS_DB_PASSWORD:?set OPEDS_DB_PASSWORD in .env}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v airflow_pw="$AIRFLOW_DB_PASSWORD" -v opeds_pw="$OPEDS_DB_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_pw';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE opeds LOGIN PASSWORD :'opeds_pw';
CREATE DATABASE opeds OWNER opeds;
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
REVOKE ALL ON DATABASE opeds FROM PUBLIC;
SQL
