from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from wharf.settings import CONFIG_ENV, load_settings

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_example_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(EXAMPLES / "wharf.toml"))
    settings = load_settings()
    assert settings.port == 5000
    assert settings.upload_ttl == timedelta(days=1)
    assert settings.storage.driver == "filesystem"


def test_env_beats_file_and_flags_beat_env(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(EXAMPLES / "wharf.toml"))
    monkeypatch.setenv("WHARF_PORT", "6000")
    monkeypatch.setenv("WHARF_STORAGE__ROOT", str(tmp_path))
    assert load_settings().port == 6000
    assert load_settings().blob_root == tmp_path.resolve()
    assert load_settings(port=7000).port == 7000


def test_unknown_env_is_warned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHARF_PROT", "1")
    with pytest.warns(UserWarning, match="WHARF_PROT"):
        load_settings()


def test_config_check_cli(tmp_path: Path) -> None:
    wharf = str(Path(sys.executable).with_name("wharf"))
    ok = subprocess.run([wharf, "config", "check", "--config", str(EXAMPLES / "wharf.toml")],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert '"port": 5000' in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('port = "not a number"\n')
    failed = subprocess.run([wharf, "config", "check", "--config", str(bad)],
                            capture_output=True, text=True, check=False)
    assert failed.returncode != 0
    assert "port" in failed.stderr


def test_scale_out_example_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(EXAMPLES / "postgres-s3.toml"))
    settings = load_settings()
    assert settings.resolved_database_url.startswith("postgresql+psycopg://")
    assert settings.storage.driver == "s3"
    assert settings.storage.s3.bucket == "wharf-blobs"
    assert settings.storage.s3.prefix == "registry"
    assert settings.storage.s3.presign is False
    assert settings.storage.s3.abandoned_multipart_after == timedelta(hours=1)
    assert settings.jobs.in_server is True
    assert settings.jobs.lease == timedelta(minutes=5)


def test_s3_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHARF_STORAGE__DRIVER", "s3")
    monkeypatch.setenv("WHARF_STORAGE__S3__BUCKET", "b")
    monkeypatch.setenv("WHARF_STORAGE__S3__PRESIGN", "true")
    monkeypatch.setenv("WHARF_JOBS__IN_SERVER", "false")
    settings = load_settings()
    assert (settings.storage.driver, settings.storage.s3.bucket) == ("s3", "b")
    assert settings.storage.s3.presign is True
    assert settings.jobs.in_server is False
