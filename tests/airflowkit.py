"""Airflow settings shared by the DAG tests."""

from __future__ import annotations

from pathlib import Path


def airflow_env(home: Path, dags: Path) -> dict[str, str]:
    """Airflow's settings for a test metadata database in ``home``: the DAGs of ``dags``, no
    examples, quiet logs."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
