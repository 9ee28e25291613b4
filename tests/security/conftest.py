"""The gateway tests' fixtures (real loopback backends and gateways), shared here."""
from tests.gateway.conftest import start_backend, start_gateway  # noqa: F401
