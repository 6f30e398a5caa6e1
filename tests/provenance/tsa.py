"""A real RFC 3161 time-stamping authority on loopback, for tests: ``openssl ts -reply`` behind
``http.server``, signing with its own test CA's TSA certificate (EKU timeStamping, critical)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.engines.chat_stub import running
from tests.provenance.certs import NOW, Issued, issue

OPENSSL = shutil.which("openssl")
_CONFIG = """\
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/chain.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = yes
ess_cert_id_alg = sha256
"""


@dataclass(frozen=True)
class TsaIdentity:
    """A TSA's own CA and its time-stamping certificate."""

    root: Issued
    leaf: Issued

    def root_pem(self) -> str:
        return self.root.pem().decode()


def make_tsa_identity(name: str = "Loopback TSA") -> TsaIdentity:
    year = dt.timedelta(days=365)
    root = issue(f"{name} Root", None, ca=True, path_length=0, not_before=NOW - year, not_after=NOW + year)
    leaf = issue(
        name,
        root,
        ca=False,
        ekus=(ExtendedKeyUsageOID.TIME_STAMPING,),
        eku_critical=True,
        not_before=NOW - dt.timedelta(days=30),
        not_after=NOW + dt.timedelta(days=300),
    )
    return TsaIdentity(root, leaf)


def _write_config(identity: TsaIdentity, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    key = identity.leaf.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (folder / "tsa.key").write_bytes(key)
    (folder / "tsa.pem").write_bytes(identity.leaf.pem())
    (folder / "chain.pem").write_bytes(identity.leaf.pem() + identity.root.pem())
    (folder / "serial").write_text("01\n")
    cfg = folder / "tsa.cnf"
    cfg.write_text(_CONFIG.format(dir=folder))
    return cfg


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")  # DER: the shortest length form
    length = bytes([size]) if size < 128 else bytes([0x80 | len(octets)]) + octets
    return bytes([tag]) + length + body


def _resign(folder: Path, signer: Issued, reply: Path) -> subprocess.CompletedProcess[bytes]:
    """Replace the token in ``reply`` (``openssl ts -token_out``) by the same TSTInfo signed with
    ``signer`` as a CMS SignedData, wrapped as a granted TimeStampResp."""
    tst, token, key = folder / "tst.der", folder / "resigned.der", folder / "resigner.key"
    key.write_bytes(signer.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))  # fmt: skip
    (folder / "resigner.pem").write_bytes(signer.pem())
    openssl = [str(OPENSSL), "cms"]
    for args in (
        ["-verify", "-noverify", "-inform", "DER", "-in", str(reply), "-binary", "-out", str(tst)],
        ["-sign", "-binary", "-nodetach", "-in", str(tst), "-econtent_type", "1.2.840.113549.1.9.16.1.4",
         "-signer", str(folder / "resigner.pem"), "-inkey", str(key), "-outform", "DER",
         "-nosmimecap", "-md", "sha256", "-out", str(token)],
    ):  # fmt: skip
        done = subprocess.run([*openssl, *args], capture_output=True, timeout=20, check=False)
        if done.returncode != 0:
            return done
    granted = _der(0x30, _der(0x02, b"\x00"))
    reply.write_bytes(_der(0x30, granted + token.read_bytes()))
    return done


class _Server(ThreadingHTTPServer):
    folder: Path
    config: Path
    lock: threading.Lock
    served: int
    resigner: Issued | None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        srv = self.server
        with srv.lock:  # one serial file: openssl ts replies one at a time
            srv.served += 1
            q, r = srv.folder / f"q{srv.served}.tsq", srv.folder / f"r{srv.served}.tsr"
            q.write_bytes(query)
            done = subprocess.run(
                [
                    str(OPENSSL),
                    "ts",
                    "-reply",
                    "-config",
                    str(srv.config),
                    "-queryfile",
                    str(q),
                    *(["-token_out"] if srv.resigner is not None else []),
                    "-out",
                    str(r),
                ],
                capture_output=True,
                timeout=20,
                check=False,
            )
            if done.returncode == 0 and srv.resigner is not None:
                done = _resign(srv.folder, srv.resigner, r)
        if done.returncode != 0 or not r.is_file():
            self.send_error(500, "openssl ts failed")
            return
        body = r.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def serve_tsa(identity: TsaIdentity, folder: Path, *, resigner: Issued | None = None) -> Iterator[_Server]:
    """Run the TSA on 127.0.0.1 (a free port) until the block ends; ``url_of(server)`` is its URL.
    ``resigner``: every token is re-signed with this certificate (one openssl ts refuses to use)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.folder, server.config = folder, _write_config(identity, folder)
    server.lock, server.served, server.resigner = threading.Lock(), 0, resigner
    with running(server):
        yield server


def url_of(server: _Server) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}/tsa"


def dead_url() -> str:
    """A loopback URL nothing listens on (the port was bound, then released)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}/tsa"
