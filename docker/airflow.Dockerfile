# syntax=docker/dockerfile:1
# The opeds image: Apache Airflow 3.3 with the opeds package (and its DAGs) installed, pinned by the
# repository's constraints.txt. Build from the repository root:
#   docker build -f docker/airflow.Dockerfile -t opeds-airflow .
# The same image runs the Celery workers and the one-shot bucket setup; replay has an image of its
# own (docker/replay.Dockerfile): pywb pins a redis client that Celery cannot use.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

# Folders that named volumes mount over: created here so the volumes start out owned by airflow.
USER root
RUN install -d -o airflow -g 0 -m 0770 /opt/opeds /opt/airflow/opeds-state /opt/airflow/auth /webarchive
USER airflow
WORKDIR /opt/opeds

# Dependencies first, so code changes do not reinstall them.
COPY --chown=airflow:0 pyproject.toml constraints.txt README.m[d] /opt/opeds/
COPY --chown=airflow:0 opeds /opt/opeds/opeds
COPY --chown=airflow:0 crawler /opt/opeds/crawler
COPY --chown=airflow:0 storage /opt/opeds/storage
# apache-airflow is named with the image's own version so pip never swaps Airflow itself.
RUN pip install --no-cache-dir --constraint /opt/opeds/constraints.txt \
        "apache-airflow==${AIRFLOW_VERSION}" "/opt/opeds[celery,postgres]" \
    && python -c "import opeds, storage.s3, celery, redis; print('opeds', opeds.__version__)"

COPY --chown=airflow:0 sources.tom[l] /opt/opeds/
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 docker /opt/opeds/docker

ENV OPEDS_SOURCES=/opt/opeds/sources.toml
WORKDIR /opt/airflow
