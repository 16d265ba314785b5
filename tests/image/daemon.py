"""A Docker daemon of the test's own, and a Debian base image built without a registry.

``Daemon`` starts containerd and dockerd under one temporary folder (data, state, sockets, pid
files), with no bridge and no iptables rules, so it never touches the machine's own daemon nor its
network; ``stop()`` removes every container, stops both daemons, unmounts what they mounted and
deletes the folder. ``debian_rootfs()`` builds a minimal Debian with python3, venv and pip by
debootstrap, with this machine's extra certificate authorities (its HTTPS may be re-signed by
them), and caches the tarball between runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

SUITE = "bookworm"
MIRROR = os.environ.get("MOCK_SPRINTO_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
LOCAL_CAS = Path("/usr/local/share/ca-certificates")
CACHE = Path(os.environ.get("MOCK_SPRINTO_IMAGE_CACHE", "/var/cache/mock-sprinto-image"))
# What dockerd 20.10 and containerd's shims create outside the folders given to them.
_STRAYS = (
    Path("/etc/docker/key.json"),
    Path("/etc/docker"),
    Path("/run/docker/plugins"),
    Path("/run/docker"),
    Path("/run/containerd/s"),
    Path("/run/containerd"),
)


_RECIPE = 2  # bump when debian_rootfs() makes another tree


class Unavailable(Exception):
    """Why no Docker daemon can be started here (the image test skips with it)."""


def why_unavailable() -> str | None:
    """None where a daemon of our own can be started, else the reason."""
    if not hasattr(os, "geteuid") or os.uname().sysname != "Linux":
        return "the image test starts its own Docker daemon, which needs Linux"
    if os.geteuid() != 0:
        return "the image test starts its own Docker daemon, which needs root"
    missing = [tool for tool in ("dockerd", "containerd", "docker", "debootstrap") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install docker.io debootstrap)"
    return None


class Daemon:
    """containerd and dockerd of our own, under ``self.root``."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mock-sprinto-docker-"))  # short: socket paths max 107 bytes
        # In memory: deleting a few thousand layer files from this machine's disk takes 10-20 s, and
        # unmounting is instant (a disk folder where a tmpfs cannot be mounted).
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6g,mode=0700", "tmpfs", str(self.root)], check=False)
        self.socket = self.root / "docker.sock"
        self.env = {
            **os.environ,
            "DOCKER_HOST": f"unix://{self.socket}",
            "DOCKER_CONFIG": str(self.root / "client"),  # not ~/.docker
        }
        self._strays = [path for path in _STRAYS if not path.exists()]
        self._processes: list[subprocess.Popen[bytes]] = []

    def start(self, timeout: float = 60) -> Daemon:
        logs = self.root / "logs"
        logs.mkdir()
        containerd_socket = self.root / "containerd.sock"
        # Not /etc/containerd/config.toml; no Kubernetes plugin.
        (self.root / "containerd.toml").write_text('version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n')
        self._spawn(
            "containerd",
            [
                *("containerd", "--config", str(self.root / "containerd.toml"), "--address", str(containerd_socket)),
                *("--root", str(self.root / "containerd"), "--state", str(self.root / "containerd-state")),
                *("--log-level", "warn"),
            ],
        )
        self._wait(lambda: containerd_socket.exists(), timeout, "containerd")
        (self.root / "daemon.json").write_text("{}\n")  # not /etc/docker/daemon.json
        self._spawn(
            "dockerd",
            [
                *("dockerd", "--config-file", str(self.root / "daemon.json"), "--containerd", str(containerd_socket)),
                *("--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec")),
                *("--pidfile", str(self.root / "dockerd.pid"), "-H", f"unix://{self.socket}"),
                *("--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false"),
                *("--userland-proxy=false", "--log-level", "warn"),
            ],
        )
        self._wait(
            lambda: self.socket.exists() and self.docker("version", check=False, timeout=10).returncode == 0,
            timeout,
            "dockerd",
        )
        return self

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = (self.root / "logs" / f"{name}.log").open("wb")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self._processes.append(process)

    def _wait(self, ready: object, timeout: float, name: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():  # type: ignore[operator]
            if any(process.poll() is not None for process in self._processes) or time.monotonic() > deadline:
                log = (self.root / "logs" / f"{name}.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise Unavailable(f"{name} did not start: {log.strip() or 'no output'}")
            time.sleep(0.1)

    def log(self, name: str = "dockerd") -> str:
        path = self.root / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def docker(
        self, *args: str, check: bool = True, timeout: float = 120, input: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["docker", *args],
            env=self.env,
            capture_output=True,
            text=input is None,
            input=input,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
        return result  # type: ignore[return-value]

    def inspect(self, what: str) -> dict[str, object]:
        return dict(json.loads(self.docker("inspect", what).stdout)[0])

    def stop(self) -> None:
        """Every container gone, both daemons stopped, their mounts undone, the folder deleted (and
        with it every image and the build cache)."""
        if self.socket.exists() and all(process.poll() is None for process in self._processes):
            ids = self.docker("ps", "-aq", check=False, timeout=30).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, check=False, timeout=60)
        for process in reversed(self._processes):  # dockerd first, then containerd
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
        self._processes.clear()
        unmount_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)
        for path in self._strays:  # only what was not there before we started
            try:
                path.unlink() if path.is_file() else path.rmdir()  # a folder only if empty
            except OSError:
                pass


def mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve()) + "/"
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as info:
        for line in info:
            point = line.split()[4].replace("\\040", " ")
            if (point + "/").startswith(prefix):
                found.append(point)
    return found


def unmount_under(root: Path) -> None:
    for point in sorted(mounts_under(root), key=len, reverse=True):  # the deepest first
        if subprocess.run(["umount", point], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _key(suite: str) -> str:
    """What the cached base depends on: the suite, the mirror, the packages, the local CAs."""
    digest = hashlib.sha256(f"{_RECIPE}\n{suite}\n{MIRROR}\n{' '.join(PACKAGES)}\n".encode())
    for ca in sorted(LOCAL_CAS.glob("*.crt")) if LOCAL_CAS.is_dir() else ():
        digest.update(ca.name.encode() + b"\0" + ca.read_bytes())
    return digest.hexdigest()[:16]


def debian_rootfs(log: Path, suite: str = SUITE) -> tuple[Path, bool]:
    """A tarball of a minimal Debian ``suite`` with python3, venv, pip and this machine's CAs, and
    whether it came from the cache. Built by debootstrap (about a minute) the first time, then reused."""
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / f"debian-{suite}-python-{_key(suite)}.tar"
    if tarball.exists():
        return tarball, True
    for old in CACHE.glob(f"debian-{suite}-python-*.tar"):  # another key: stale
        old.unlink()
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=CACHE))
    target = work / "root"
    try:
        _run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", suite, str(target), MIRROR],
            log,
        )
        extra = sorted(LOCAL_CAS.glob("*.crt")) if LOCAL_CAS.is_dir() else []
        for ca in extra:
            shutil.copy2(ca, target / "usr/local/share/ca-certificates" / ca.name)
        if extra:
            _run(["chroot", str(target), "update-ca-certificates"], log)
        for junk in (
            "var/cache/apt/archives",
            "var/lib/apt/lists",
            "usr/share/doc",
            "usr/share/man",
            "usr/share/info",
            "usr/share/locale",
        ):
            for entry in (target / junk).glob("*"):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                elif entry.name != "lock":
                    entry.unlink()
        partial = tarball.with_suffix(".partial")
        _run(["tar", "-C", str(target), "--numeric-owner", "-cf", str(partial), "."], log)
        partial.rename(tarball)
    finally:
        unmount_under(work)  # debootstrap mounts /proc and /sys inside while it installs
        shutil.rmtree(work, ignore_errors=True)
    return tarball, False


def _run(argv: Sequence[str], log: Path) -> None:
    with log.open("ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        result = subprocess.run(list(argv), stdout=out, stderr=subprocess.STDOUT, check=False, timeout=900)
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise AssertionError(f"{argv[0]} exited {result.returncode}:\n{tail}")
