#!/usr/bin/env bash
# One-shot Airflow setup, run as root by the airflow-init service: folders owned by the airflow
# user, the admin's password file for Airflow's simple auth manager (from AIRFLOW_ADMIN_PASSWORD),
# then the metadata database migration (the image's entrypoint does it for _AIRFLOW_DB_MIGRATE)
# and the `crawl` pool the nightly DAG's crawl tasks run in.
set -euo pipefail
: "${AIRFLOW_ADMIN_USER:?set AIRFLOW_ADMIN_USER in .env}"
: "${AIRFLOW_ADMIN_PASSWORD:?set AIRFLOW_ADMIN_PASSWORD in .env}"
uid="${AIRFLOW_UID:-50000}"

install -d -o "$uid" -g 0 -m 0770 /opt/airflow/logs /opt/airflow/opeds-state
install -d -o "$uid" -g 0 -m 0700 /opt/airflow/auth
python - <<'PY'
import json, os
path = "/opt/airflow/auth/passwords.json"
with open(path, "w", encoding="utf-8") as f:
    json.dump({os.environ["AIRFLOW_ADMIN_USER"]: os.environ["AIRFLOW_ADMIN_PASSWORD"]}, f)
os.chmod(path, 0o600)
PY
chown "$uid:0" /opt/airflow/auth/passwords.json
unset AIRFLOW_ADMIN_PASSWORD
exec /entrypoint bash -c 'airflow version && airflow pools set crawl "${OPEDS_CRAWL_POOL_SLOTS:-2}" "opeds crawls (politeness across runs)"' 
