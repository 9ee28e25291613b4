"""A private certificate authority for mutual TLS between XCloud's processes (``cryptography``).

``python -m xcloud.devcerts OUT_DIR`` writes one folder per process in cert-manager's Secret
layout (``tls.crt``, ``tls.key``, ``ca.crt``), which is what the compose TLS example
(docker-compose.tls.yml) mounts and what the chart expects in each ``<fullName>-tls`` Secret.
For development and tests: in production let your PKI (cert-manager, Vault) issue them.
"""
from __future__ import annotations

import argparse
import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# The processes of the compose stack; every backend's certificate also carries BACKEND_NAME,
# the one name the gateway checks (backend_tls_server_name) whatever address it dials.
PROCESSES = ("gateway", "face_detection", "face_attributes", "expression", "fine_grained",
             "animal_identity", "text_quality")
GATEWAY_NAME = "xcloud-gateway"
BACKEND_NAME = "xcloud-backend"
VALID_DAYS = 30


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path

    def pair(self) -> tuple[bytes, bytes]:
        return self.key.read_bytes(), self.cert.read_bytes()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(folder: Path, stem: str, cert: x509.Certificate, key) -> Issued:
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / f"{stem}.crt", folder / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o644)  # read by the containers' unprivileged user; dev certificates only
    return Issued(cert_path, key_path)


def _validity(builder: x509.CertificateBuilder, days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (builder.not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days)))


class DevCA:
    """A self-signed CA (EC P-256) written to ``folder``; ``issue`` signs leaf certificates."""

    def __init__(self, folder: Path, name: str = "xcloud dev CA", days: int = VALID_DAYS):
        self.folder, self.days = folder, days
        self.key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
                   .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), True))
        self.cert = _validity(builder, days).sign(self.key, hashes.SHA256())
        self.issued = _write(folder, name.replace(" ", "_"), self.cert, self.key)

    @property
    def pem(self) -> bytes:
        return self.issued.cert.read_bytes()

    def issue(self, common_name: str, extra_names: Sequence[str] = (),
              folder: Path | None = None, stem: str | None = None) -> Issued:
        """A leaf for ``common_name`` (+ ``extra_names``), valid for localhost and 127.0.0.1."""
        key = ec.generate_private_key(ec.SECP256R1())
        names = [x509.DNSName(n) for n in dict.fromkeys([common_name, *extra_names, "localhost"])]
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        builder = (x509.CertificateBuilder().subject_name(_name(common_name))
                   .issuer_name(self.cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .add_extension(x509.SubjectAlternativeName(names), False))
        cert = _validity(builder, self.days).sign(self.key, hashes.SHA256())
        return _write(folder or self.folder, stem or common_name, cert, key)


def write_stack_certificates(out: Path) -> list[Path]:
    """One cert-manager-style folder per process under ``out``; returns the folders."""
    ca = DevCA(out)
    folders = []
    for process in PROCESSES:
        folder = out / process
        name = GATEWAY_NAME if process == "gateway" else process.replace("_", "-")
        extra = [] if process == "gateway" else [BACKEND_NAME]
        ca.issue(name, extra, folder=folder, stem="tls")
        (folder / "ca.crt").write_bytes(ca.pem)
        folders.append(folder)
    return folders


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m xcloud.devcerts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder to write (e.g. deploy/tls)")
    folders = write_stack_certificates(parser.parse_args(argv).out)
    print(f"wrote {len(folders)} certificate folders under {folders[0].parent}")


if __name__ == "__main__":
    main()
