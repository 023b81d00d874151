"""Real container clients (skopeo, podman, buildah) run with a private configuration.

Every client gets its configuration from a temporary directory: an empty auth file, a
registries.conf without search registries, a permissive signature policy, an empty
containers.conf and a vfs storage.conf. Nothing reads the machine's own configuration or
touches its image storage. (containers/image still keeps its blob-info cache, as root, in
/var/lib/containers/cache; skopeo offers no switch to move it.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

DEFAULT_TIMEOUT = 180.0


def run(
    argv: Sequence[str], env: dict[str, str], timeout: float = DEFAULT_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run a client command that must succeed; on failure show its output in the test report."""
    try:
        return subprocess.run(
            list(argv), check=True, capture_output=True, text=True, env=env, timeout=timeout
        )
    except subprocess.CalledProcessError as exc:
        raise AssertionError(
            f"{' '.join(argv)} exited with {exc.returncode}\n"
            f"--- stdout ---\n{exc.stdout}\n--- stderr ---\n{exc.stderr}"
        ) from None


def run_unchecked(
    argv: Sequence[str], env: dict[str, str], timeout: float = DEFAULT_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run a client command whose failure the test wants to look at."""
    return subprocess.run(
        list(argv), check=False, capture_output=True, text=True, env=env, timeout=timeout
    )


@dataclass(frozen=True)
class ClientConfig:
    """A private set of containers-common configuration files and the environment using them."""

    root: Path

    @property
    def auth_file(self) -> Path:
        return self.root / "auth.json"

    @property
    def registries_conf(self) -> Path:
        return self.root / "registries.conf"

    @property
    def policy(self) -> Path:
        return self.root / "policy.json"

    @property
    def containers_conf(self) -> Path:
        return self.root / "containers.conf"

    @property
    def storage_conf(self) -> Path:
        return self.root / "storage.conf"

    @property
    def registries_d(self) -> Path:
        return self.root / "registries.d"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @classmethod
    def create(cls, root: Path) -> ClientConfig:
        cfg = cls(root)
        root.mkdir(parents=True, exist_ok=True)
        cfg.tmp.mkdir(exist_ok=True)
        cfg.registries_d.mkdir(exist_ok=True)
        cfg.auth_file.write_text(json.dumps({"auths": {}}))
        cfg.registries_conf.write_text("unqualified-search-registries = []\n")
        cfg.policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
        cfg.containers_conf.write_text("")
        storage = root / "storage"
        cfg.storage_conf.write_text(
            "[storage]\n"
            'driver = "vfs"\n'
            f'graphroot = "{storage / "root"}"\n'
            f'runroot = "{storage / "runroot"}"\n'
        )
        return cfg

    @property
    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": str(self.root),
            "TMPDIR": str(self.tmp),
            "REGISTRY_AUTH_FILE": str(self.auth_file),
            "CONTAINERS_REGISTRIES_CONF": str(self.registries_conf),
            "CONTAINERS_CONF": str(self.containers_conf),
            "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
        }


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


@dataclass(frozen=True)
class Skopeo:
    """skopeo with private configuration, talking plain HTTP to the registry under test."""

    exe: str
    config: ClientConfig

    def _argv(self, command: str, *args: str) -> list[str]:
        return [
            self.exe, "--policy", str(self.config.policy),
            "--registries.d", str(self.config.registries_d),
            "--tmpdir", str(self.config.tmp),
            command, *args,
        ]

    def __call__(self, command: str, *args: str) -> subprocess.CompletedProcess[str]:
        return run(self._argv(command, *args), self.config.env)

    def unchecked(self, command: str, *args: str) -> subprocess.CompletedProcess[str]:
        return run_unchecked(self._argv(command, *args), self.config.env)

    def copy(self, src: str, dest: str, *flags: str) -> subprocess.CompletedProcess[str]:
        return self(
            "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
            "--authfile", str(self.config.auth_file), *flags, src, dest,
        )

    def inspect_raw(self, ref: str, *flags: str) -> bytes:
        """The manifest (or with ``--config``, the config) exactly as the registry served it."""
        argv = self._argv("inspect", "--tls-verify=false", "--raw", *flags, ref)
        try:
            out = subprocess.run(
                argv, check=True, capture_output=True, env=self.config.env,
                timeout=DEFAULT_TIMEOUT,
            )
        except subprocess.CalledProcessError as exc:
            raise AssertionError(
                f"{' '.join(argv)} exited with {exc.returncode}\n{exc.stderr.decode()}"
            ) from None
        return out.stdout

    def inspect(self, ref: str, *flags: str) -> dict[str, object]:
        out = self("inspect", "--tls-verify=false", *flags, ref)
        result: dict[str, object] = json.loads(out.stdout)
        return result


@dataclass(frozen=True)
class ContainerTool:
    """podman or buildah on a private vfs image store, with the private client configuration.

    Each instance has its own store; ``fresh()`` gives a clean machine to pull back into.
    """

    exe: str
    config: ClientConfig
    store: Path

    @property
    def name(self) -> str:
        return Path(self.exe).name

    @property
    def policy_flag(self) -> str:
        return f"--signature-policy={self.config.policy}"

    def _argv(self, args: Sequence[str]) -> list[str]:
        argv = [
            self.exe,
            "--root", str(self.store / "root"),
            "--runroot", str(self.store / "run"),
            "--storage-driver", "vfs",
        ]
        if self.name == "podman":
            # Keep libpod's state and events in the store too, and stay off systemd.
            argv += [
                "--tmpdir", str(self.store / "libpod-tmp"),
                "--events-backend", "file",
                "--cgroup-manager", "cgroupfs",
            ]
        return [*argv, *args]

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run(self._argv(args), self.config.env)

    def unchecked(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_unchecked(self._argv(args), self.config.env)

    def fresh(self, name: str) -> ContainerTool:
        """The same tool on another, empty store next to this one."""
        return ContainerTool(self.exe, self.config, self.store.parent / name)


def skip_unless_works(tool: ContainerTool, *probe: str) -> None:
    """Skip (with the tool's own error) when it cannot run in this sandbox at all."""
    try:
        result = tool.unchecked(*probe)
    except subprocess.TimeoutExpired:
        pytest.skip(f"{tool.name} {' '.join(probe)} timed out in this sandbox")
    if result.returncode != 0:
        pytest.skip(
            f"{tool.name} {' '.join(probe)} cannot run in this sandbox "
            f"(exit {result.returncode}): {result.stderr.strip()}"
        )
