"""No credential ever lands in what a night writes: WARCs, logs, reports, manifests, indexes."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

from opeds.demo import SOURCES_PATH, build_site
from opeds.testing.web import LoopbackWeb
from tests.s3server import (
    MotoS3,
    moto_s3_fixture,  # noqa: F401  (the moto_s3 fixture)
)

NIGHT = "2026-11-28"
KEY_ID = "AKIAOPEDSTESTKEY0001"
SECRET = "opeds-test-secret-Vx93kLq0Zp7w"  # the S3 secret key
PROXY_SECRET = "proxy-pass-Qm82Xa"  # a password inside http_proxy
DB_SECRET = "catalog-pass-Jr55Tn"  # a password inside the catalog URL (PostgreSQL trusts us anyway)


def everything_written(root: Path) -> list[tuple[str, bytes]]:
    """Every file under ``root``, decompressed where it is gzip or a zip package."""
    out: list[tuple[str, bytes]] = []
    for p in root.rglob("*"):
        if not p.is_file():
            continue
        data = p.read_bytes()
        out.append((str(p), data))
        if data[:2] == b"\x1f\x8b":
            # WARCs are one gzip member per record: inflate them all
            import zlib

            inflated, rest = bytearray(), data
            while rest:
                d = zlib.decompressobj(31)
                inflated += d.decompress(rest)
                rest = d.unused_data
            out.append((f"{p} (inflated)", bytes(inflated)))
        if data[:2] == b"PK":
            with zipfile.ZipFile(p) as zf:
                for name in zf.namelist():
                    member = zf.read(name)
                    if member[:2] == b"\x1f\x8b":
                        member = gzip.decompress(member)
                    out.append((f"{p}#{name}", member))
    return out


def test_a_night_to_s3_through_an_authenticated_proxy_leaks_nothing(
    moto_s3: MotoS3, tmp_path: Path, catalog_url: str
) -> None:
    secrets = [SECRET, PROXY_SECRET, KEY_ID]
    if catalog_url.startswith("postgresql"):
        catalog_url = catalog_url.replace("postgres@", f"postgres:{DB_SECRET}@", 1)
        secrets.append(DB_SECRET)
    bucket = moto_s3.bucket(object_lock=True)
    state = tmp_path / "state"
    site = build_site(date.fromisoformat(NIGHT))
    with LoopbackWeb(site) as web:
        proxy = web.proxy_url.replace("http://", f"http://archivist:{PROXY_SECRET}@")
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(
            http_proxy=proxy,
            https_proxy=proxy,
            no_proxy="127.0.0.1,localhost",  # the S3 server is reached directly
            AWS_ACCESS_KEY_ID=KEY_ID,
            AWS_SECRET_ACCESS_KEY=SECRET,
            AWS_ENDPOINT_URL=moto_s3.endpoint,
            AWS_DEFAULT_REGION="us-east-1",
            OPEDS_STATE_DIR=str(state),
            OPEDS_CATALOG_URL=catalog_url,
            OPEDS_OBJECT_LOCK_MODE="GOVERNANCE",
            OPEDS_OBJECT_LOCK_DAYS="1",
        )
        opeds = str(Path(sys.executable).with_name("opeds"))
        res = subprocess.run(
            [
                opeds,
                "crawl",
                "--sources",
                str(SOURCES_PATH),
                "--archive",
                f"s3://{bucket}/nightly",
                "--night",
                NIGHT,
                "--log",
                str(tmp_path / "crawl.log"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert res.returncode == 0, res.stderr[-2000:]
        auth = [
            r for r in web.requests if any(k.lower() == "proxy-authorization" for k, _ in r.headers)
        ]
    assert auth, "the proxy credentials were used"

    # everything stored in the bucket, the local state (spool, catalog), the log and the output
    s3 = moto_s3.client()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert any(k.endswith(".warc.gz") for k in keys) and any("reports/" in k for k in keys)
    pulled = tmp_path / "pulled"
    for key in keys:
        dest = pulled / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    files = everything_written(pulled) + everything_written(state)
    files += [("crawl.log", (tmp_path / "crawl.log").read_bytes())]
    files += [("stdout", res.stdout.encode()), ("stderr", res.stderr.encode())]
    assert len(files) > 10
    for secret in secrets:
        leaks = [name for name, data in files if secret.encode() in data]
        assert not leaks, f"{secret} found in {leaks}"
    # the request records hold what the origin was sent: no proxy credentials
    warcs = [data for name, data in files if name.endswith("(inflated)")]
    assert warcs and not any(b"Proxy-Authorization" in w for w in warcs)
