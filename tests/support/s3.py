"""A moto S3 server as a separate process on a free loopback port, for tests."""

from __future__ import annotations

import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

from tests.support.processes import terminate, wait_until_up
from tests.support.server import free_port

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"


def moto_executable() -> list[str]:
    candidate = Path(sys.executable).with_name("moto_server")
    if candidate.exists():
        return [str(candidate)]
    return [sys.executable, "-m", "moto.server"]


@dataclass
class MotoServer:
    log_dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.log_dir / f"moto-{self.port}.log").open("ab")
        self.proc = subprocess.Popen([*moto_executable(), "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=log, stderr=subprocess.STDOUT)

        def answers() -> bool:
            try:
                httpx.get(f"{self.endpoint}/moto-api/", timeout=1)
            except httpx.TransportError:
                return False
            return True

        wait_until_up(self.proc, "moto_server", answers, 30)

    def stop(self) -> None:
        terminate(self.proc)
        self.proc = None

    def client(self) -> Any:
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}))

    def new_bucket(self) -> str:
        name = f"wharf-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def drop_bucket(self, name: str) -> None:
        """Remove a bucket with everything in it, unfinished multipart uploads included."""
        s3 = self.client()
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=name):
            for up in page.get("Uploads", []):
                s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objs:
                s3.delete_objects(Bucket=name, Delete={"Objects": objs})
        s3.delete_bucket(Bucket=name)

    def settings_env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """WHARF_* variables pointing a wharf node at this server."""
        return {
            "WHARF_STORAGE__DRIVER": "s3",
            "WHARF_STORAGE__S3__BUCKET": bucket,
            "WHARF_STORAGE__S3__PREFIX": prefix,
            "WHARF_STORAGE__S3__ENDPOINT_URL": self.endpoint,
            "WHARF_STORAGE__S3__REGION": REGION,
            "WHARF_STORAGE__S3__ACCESS_KEY_ID": ACCESS_KEY,
            "WHARF_STORAGE__S3__SECRET_ACCESS_KEY": SECRET_KEY,
        }
