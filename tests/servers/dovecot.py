"""A throwaway Dovecot IMAP server on 127.0.0.1, for tests that need the real thing."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from bot.demo.imap_server import free_port
from tests.servers import tls as tls_files

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
{ssl}
{auth}
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
mail_fsync = never
mail_location = maildir:{root}/mail/%u
{passdb}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
{extra}"""


def available() -> bool:
    return Path(DOVECOT).exists()


PASSWD_FILE = """\
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}"""

# Only a token the introspection endpoint calls active logs in: no password passdb at all, and
# no auth cache (auth_cache_size = 0), so a revoked or expired token fails at the very next login.
OAUTH2_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/dovecot-oauth2.conf.ext
}}"""

# A refused login is answered at once: no 2 s failure delay, no growing per-IP penalty (anvil).
FAST_FAILURES = """\
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
"""

# Dovecot 2.3's oauth2 passdb settings (src/auth/db-oauth2.c). The answer must name the user the
# client logged in as (username_format %Lu on both sides), and carry "active": true.
OAUTH2_ARGS = """\
introspection_mode = post
introspection_url = {url}
force_introspection = yes
username_attribute = username
username_format = %Lu
active_attribute = active
active_value = true
tls_ca_cert_file = {ca_file}
timeout_msecs = 5000
max_idle_time_msecs = 1000
"""


class DovecotServer:
    """Dovecot with one user and an empty maildir, started and stopped with ``with``.

    By default: plain IMAP on ``port``, PLAIN/LOGIN with ``username``/``password``, no TLS.
    ``tls=True`` adds STARTTLS on ``port`` and IMAPS on ``ssl_port``, presenting the test
    authority's certificate (``cert="other"``: the one for another host name), and refuses
    plaintext authentication before TLS except from 127.0.0.1 itself (Dovecot counts a client
    on the server's own address as secure). ``oauth2_introspection_url`` replaces the password
    with Dovecot's oauth2 passdb: XOAUTH2/OAUTHBEARER only, each login asks that URL (http or
    https; https is verified with the tls.py CA). ``fast_failures`` (default: on in those two
    modes only) drops Dovecot's 2 s delay and per-IP penalty before "authentication failed".
    """

    def __init__(
        self,
        username: str = "complaint",
        password: str = "test-only",
        *,
        tls: bool = False,
        cert: tls_files.CertName = "localhost",
        oauth2_introspection_url: str | None = None,
        fast_failures: bool | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.username = username
        self.password = password
        self.tls = tls
        self.cert = cert
        self.oauth2_introspection_url = oauth2_introspection_url
        #: No delay before "authentication failed"; by default only with tls or oauth2 (new modes).
        self.fast_failures = (
            (tls or oauth2_introspection_url is not None) if fast_failures is None else fast_failures
        )
        self.port = free_port()
        #: The IMAPS (implicit TLS) port with ``tls=True``, else None.
        self.ssl_port: int | None = free_port() if tls else None
        self.root = Path(tempfile.mkdtemp(prefix="dovecot-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The master process's id (every login and IMAP session is its child)."""
        assert self._process is not None
        return self._process.pid

    @property
    def ca_file(self) -> Path:
        """The CA bundle a client verifies this server's certificate with."""
        return tls_files.ca_file()

    def __enter__(self) -> DovecotServer:
        dovecot = pwd.getpwnam("dovecot")
        os.chmod(self.root, 0o755)
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir()
        os.chown(self.root / "mail", dovecot.pw_uid, dovecot.pw_gid)
        (self.root / "passwd").write_text(f"{self.username}:{{PLAIN}}{self.password}\n")
        config = self.root / "dovecot.conf"
        config.write_text(self._config())
        return self._start()

    def _config(self) -> str:
        if self.tls:
            server = tls_files.server_cert(self.cert)
            ssl = (
                f"ssl = yes\nssl_cert = <{server.cert_file}\nssl_key = <{server.key_file}\n"
                "ssl_min_protocol = TLSv1.2"
            )
        else:
            ssl = "ssl = no"
        plaintext = "disable_plaintext_auth = yes" if self.tls else "disable_plaintext_auth = no"
        if self.oauth2_introspection_url is None:
            auth = f"{plaintext}\nauth_mechanisms = plain login"
            passdb = PASSWD_FILE.format(root=self.root)
        else:
            (self.root / "dovecot-oauth2.conf.ext").write_text(
                OAUTH2_ARGS.format(url=self.oauth2_introspection_url, ca_file=tls_files.ca_file())
            )
            mechanisms = "auth_mechanisms = xoauth2 oauthbearer"
            auth = "\n".join((plaintext, mechanisms, "auth_cache_size = 0", "auth_verbose = yes"))
            passdb = OAUTH2_PASSDB.format(root=self.root)
        return CONFIG.format(
            root=self.root,
            port=self.port,
            ssl_port=self.ssl_port or 0,
            ssl=ssl,
            auth=auth,
            passdb=passdb,
            extra=FAST_FAILURES if self.fast_failures else "",
        )

    def fill(self, messages: list[bytes]) -> None:
        """Drop messages straight into the user's maildir, as a delivery agent would (fast setup)."""
        dovecot = pwd.getpwnam("dovecot")
        maildir = self.root / "mail" / self.username
        for sub in ("new", "cur", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
            os.chown(maildir / sub, dovecot.pw_uid, dovecot.pw_gid)
        os.chown(maildir, dovecot.pw_uid, dovecot.pw_gid)
        stamp = int(time.time())
        for index, raw in enumerate(messages):
            path = maildir / "new" / f"{stamp}.M{index}P{os.getpid()}.bench"
            path.write_bytes(raw)
            os.chown(path, dovecot.pw_uid, dovecot.pw_gid)

    def restart(self) -> None:
        """Stop and start the server on the same port, keeping the mail: a restart mid-batch."""
        assert self._process is not None
        # Kill the serving processes first, so open connections drop as in a crash or restart.
        children = subprocess.run(["pgrep", "-P", str(self._process.pid)], capture_output=True, text=True)
        pids = [int(p) for p in children.stdout.split()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._process.kill()
        self._process.wait(10)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        # A killed master leaves its sockets behind; a real restart script clears them too.
        for leftover in (self.root / "run").iterdir():
            if leftover.is_socket() or leftover.is_file():
                leftover.unlink()
        self._start()

    def _start(self) -> DovecotServer:
        config = self.root / "dovecot.conf"
        self._process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self._log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as probe:
                    if probe.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"dovecot did not start: {self._log()}")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        shutil.rmtree(self.root, ignore_errors=True)

    def _log(self) -> str:
        log = self.root / "dovecot.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        if (
            self._process is not None
            and self._process.stderr is not None
            and self._process.poll() is not None
        ):
            text += self._process.stderr.read().decode(errors="replace")
        return text[-2000:]
