"""Real local receivers for alert delivery: an HTTP server answering as a generic webhook,
a DingTalk, WeCom or Feishu robot would, and an SMTP server that requires STARTTLS
(aiosmtpd, with a self-signed certificate made here). Both record what they received and
can be stopped and started again on the same port (a receiver that was down)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.core.embedded import free_port

ANSWERS = {"webhook": {"ok": True}, "dingtalk": {"errcode": 0, "errmsg": "ok"}, "wecom": {"errcode": 0}}
ANSWERS["feishu"] = {"code": 0, "msg": "success", "data": {}}


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> Any:
        return json.loads(self.raw)


@dataclass
class RobotReceiver:
    """An HTTP receiver in the format of ``kind`` on 127.0.0.1."""

    kind: str
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        path = {"dingtalk": "/robot/send?access_token=tok123", "wecom": "/cgi-bin/webhook/send?key=k-456"}
        return f"http://127.0.0.1:{self.port}" + path.get(
            self.kind, "/open-apis/bot/v2/hook/h-789" if self.kind == "feishu" else "/hook"
        )

    def start(self) -> RobotReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                url = urllib.parse.urlsplit(self.path)
                receiver.received.append(
                    Received(
                        url.path, dict(urllib.parse.parse_qsl(url.query)), dict(self.headers.items()), raw
                    )
                )
                answer = json.dumps(ANSWERS[receiver.kind]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"robot-{self.kind}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(5)
            self._server = None


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.crt", directory / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    data: bytes
    tls: bool


class SmtpReceiver:
    """An SMTP server on 127.0.0.1 that refuses mail before STARTTLS."""

    def __init__(self, directory: Path) -> None:
        self.cert, key = self_signed(directory)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(self.cert, key)
        self.port = free_port()
        self.mails: list[Mail] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
                receiver.mails.append(
                    Mail(
                        str(envelope.mail_from),
                        list(envelope.rcpt_tos),
                        bytes(envelope.content or b""),  # type: ignore[arg-type]
                        session.ssl is not None,
                    )
                )
                return "250 OK"

        self.controller = Controller(
            Handler(), hostname="127.0.0.1", port=self.port, tls_context=self.context, require_starttls=True
        )

    def start(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
