"""A test certificate authority (trustme), so that the test servers speak real, verified TLS.

One authority per process, made on first use: clients trust ``ca_file()`` only (never the
system store), so a test proves that certificate and host-name checks are really done.
"""

from __future__ import annotations

import atexit
import shutil
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import trustme

#: The host names (and addresses) of the certificate every test server presents by default.
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
#: A certificate valid, and signed by the same authority, but for another host: clients must refuse it.
OTHER_NAME = "other.example"

CertName = Literal["localhost", "other"]


@dataclass(frozen=True)
class ServerCert:
    """One server certificate on disk: its chain (leaf first) and its unencrypted key, as PEM files."""

    cert_file: Path
    key_file: Path
    hostnames: tuple[str, ...]


@dataclass(frozen=True)
class LocalAuthority:
    """The authority's files: ``ca_file`` for clients, ``localhost`` and ``other`` for servers."""

    directory: Path
    ca_file: Path
    localhost: ServerCert
    other: ServerCert

    def cert(self, name: CertName = "localhost") -> ServerCert:
        return self.localhost if name == "localhost" else self.other


_lock = threading.Lock()
_authority: LocalAuthority | None = None


def _write_cert(ca: trustme.CA, directory: Path, stem: str, names: tuple[str, ...]) -> ServerCert:
    issued = ca.issue_cert(*names)
    cert_file = directory / f"{stem}.pem"
    key_file = directory / f"{stem}.key"
    cert_file.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(key_file))
    # Readable by every user: Dovecot's unprivileged processes read the CA; the keys are test-only.
    for path in (cert_file, key_file):
        path.chmod(0o644)
    return ServerCert(cert_file, key_file, names)


def authority() -> LocalAuthority:
    """The process's authority, created (and its files written) on first call, removed at exit."""
    global _authority
    with _lock:
        if _authority is None:
            directory = Path(tempfile.mkdtemp(prefix="claimsbot-tls-"))
            directory.chmod(0o755)
            atexit.register(shutil.rmtree, directory, True)
            ca = trustme.CA(organization_name="claimsbot test CA")
            ca_file = directory / "ca.pem"
            ca.cert_pem.write_to_path(str(ca_file))
            ca_file.chmod(0o644)
            _authority = LocalAuthority(
                directory=directory,
                ca_file=ca_file,
                localhost=_write_cert(ca, directory, "localhost", LOCAL_NAMES),
                other=_write_cert(ca, directory, "other", (OTHER_NAME,)),
            )
        return _authority


def ca_file() -> Path:
    """The PEM file a client passes as its CA bundle (``cafile=``, ``verify=``, ``ca_file``)."""
    return authority().ca_file


def server_cert(name: CertName = "localhost") -> ServerCert:
    """The certificate for 127.0.0.1/localhost, or (``"other"``) the one for another host."""
    return authority().cert(name)


def client_context() -> ssl.SSLContext:
    """A client context that trusts only the test authority and checks host names."""
    return ssl.create_default_context(cafile=str(ca_file()))


def server_context(name: CertName = "localhost") -> ssl.SSLContext:
    """A server context presenting the chosen certificate."""
    cert = server_cert(name)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert.cert_file), str(cert.key_file))
    return context
