"""What the Airflow DAGs need besides one library call per task."""
