# syntax=docker/dockerfile:1
# The replay image: pywb serving the archive's WARCs straight from the bucket (docker/replay.py),
# with opeds and its [replay] extra, pinned by the repository's constraints.txt. Build from the
# repository root:
#   docker build -f docker/replay.Dockerfile -t opeds-replay .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

RUN useradd --uid 50000 --gid 0 --home-dir /opt/opeds --no-create-home opeds \
    && install -d -o opeds -g 0 -m 0770 /opt/opeds /webarchive
USER opeds
WORKDIR /opt/opeds
ENV PATH=/opt/opeds/.local/bin:$PATH PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1

COPY --chown=opeds:0 pyproject.toml constraints.txt README.m[d] /opt/opeds/
COPY --chown=opeds:0 opeds /opt/opeds/opeds
COPY --chown=opeds:0 crawler /opt/opeds/crawler
COPY --chown=opeds:0 storage /opt/opeds/storage
RUN pip install --user --constraint /opt/opeds/constraints.txt "/opt/opeds[replay]" \
    && python -c "import opeds, storage.s3, pywb; print('opeds', opeds.__version__)"
COPY --chown=opeds:0 docker /opt/opeds/docker

EXPOSE 8080
ENTRYPOINT ["python", "/opt/opeds/docker/replay.py"]
