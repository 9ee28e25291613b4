"""TLS for a server's port, and mutual TLS: which client certificates may call.

With ``tls_cert_file``/``tls_key_file`` the port speaks TLS only. With ``tls_client_ca_file``
too, the handshake requires a client certificate signed by that CA, and
``tls_client_names`` narrows the callers to the certificate names listed (the services behind
the gateway list only the gateway's), checked per call by the serving interceptor.
"""
from __future__ import annotations

from pathlib import Path

import grpc

from services.runtime.errors import XCloudError
from services.runtime.settings import ServerSettings

NAME_KEYS = ("x509_common_name", "x509_subject_alternative_name")


class PermissionDenied(XCloudError):
    code = grpc.StatusCode.PERMISSION_DENIED


def server_credentials(settings: ServerSettings) -> grpc.ServerCredentials | None:
    """The port's credentials, or None for plaintext; a half-configured pair is an error."""
    cert, key, ca = settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file
    if cert is None and key is None:
        if ca is not None or settings.tls_client_names:
            raise ValueError("tls_client_ca_file / tls_client_names need tls_cert_file and "
                             "tls_key_file: mutual TLS is TLS first")
        return None
    if cert is None or key is None:
        raise ValueError("set both tls_cert_file and tls_key_file (or neither)")
    return grpc.ssl_server_credentials(
        [(key.read_bytes(), cert.read_bytes())],
        root_certificates=ca.read_bytes() if ca is not None else None,
        require_client_auth=ca is not None,
    )


def client_credentials(ca: Path | None, cert: Path | None,
                       key: Path | None) -> grpc.ChannelCredentials | None:
    """A client's TLS credentials (with its own certificate for mutual TLS), or None for
    plaintext; a certificate without its key (or either without a CA) is an error."""
    if ca is None:
        if cert is not None or key is not None:
            raise ValueError("a client certificate needs the CA of the servers it calls "
                             "(backend_tls_ca_file): mutual TLS is TLS first")
        return None
    if (cert is None) != (key is None):
        raise ValueError("set both the client certificate and its key (or neither)")
    return grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=key.read_bytes() if key is not None else None,
        certificate_chain=cert.read_bytes() if cert is not None else None,
    )


def peer_names(context: grpc.aio.ServicerContext) -> set[str]:
    auth = context.auth_context() or {}
    return {value.decode(errors="replace") for key in NAME_KEYS for value in auth.get(key, ())}


def check_peer(context: grpc.aio.ServicerContext, allowed: frozenset[str]) -> None:
    """PERMISSION_DENIED unless the client's certificate carries an allowed name."""
    if allowed and not peer_names(context) & allowed:
        raise PermissionDenied("this client's certificate is not allowed to call this service "
                               "(tls_client_names)")
