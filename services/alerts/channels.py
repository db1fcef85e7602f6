"""Delivery channels, each in its receiver's own format, with its signing where it has one.

* ``webhook``: a JSON document (``NOTIFICATION_VERSION``); with a secret, signed like
  GitHub's webhooks: ``X-Parkcarbon-Signature: sha256=<hex HMAC-SHA256 of timestamp "." body>``
  and ``X-Parkcarbon-Timestamp``, so a receiver can reject replays.
* ``dingtalk``: 钉钉自定义机器人, a ``markdown`` message; with a secret (加签), ``timestamp``
  (ms) and ``sign`` = Base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret)) as URL
  parameters (open.dingtalk.com, 自定义机器人安全设置). Success: ``errcode`` 0.
* ``wecom``: 企业微信群机器人, a ``markdown`` message to the robot's URL (its ``key`` is the
  secret part of the URL; WeCom has no signing). Success: ``errcode`` 0.
* ``feishu``: 飞书自定义机器人, a ``text`` message; with a secret, ``timestamp`` (s) and
  ``sign`` = Base64(HMAC-SHA256(key=timestamp + "\\n" + secret, msg="")) in the body
  (open.feishu.cn, 自定义机器人使用指南). Success: ``code`` 0.
* ``email``: SMTP with STARTTLS (RFC 3207) unless switched off, login when a user is set,
  a UTF-8 plain-text message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import smtplib
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx
import orjson

from services.core.models import Alert, AlertChannel

CHANNEL_KINDS = ("webhook", "dingtalk", "wecom", "feishu", "email")
NOTIFICATION_VERSION = 1
EVENT_ZH = {"firing": "告警", "resolved": "已恢复", "escalated": "升级", "test": "测试"}


@dataclass(frozen=True, slots=True)
class Notification:
    """What one delivery says, whatever the channel."""

    event: str
    title: str
    text: str
    document: dict[str, Any]


class DeliveryError(Exception):
    """The receiver did not take the message (unreachable, refused, or said no)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


def notification(alert: Alert | None, event: str, park_code: str) -> Notification:
    if alert is None:  # a test send
        title = "parkcarbon 告警通道测试 / channel test"
        text = "这是一条测试消息，通道配置正确。This is a test message: the channel works."
        return Notification(
            event, title, text, {"version": NOTIFICATION_VERSION, "event": event, "park": park_code}
        )
    title = f"[{EVENT_ZH[event]}] {alert.scope_name}"
    text = (
        alert.message
        if event != "resolved"
        else f"【已恢复】{alert.message}（当前值 {alert.last_value:.4g}）"
    )
    document = {
        "version": NOTIFICATION_VERSION,
        "event": event,
        "park": park_code,
        "alert": {
            "id": alert.id,
            "rule_id": alert.rule_id,
            "state": alert.state,
            "severity": alert.severity,
            "scope_kind": alert.scope_kind,
            "scope_id": alert.scope_id,
            "scope_name": alert.scope_name,
            "enterprise_id": alert.enterprise_id,
            "value": alert.value,
            "last_value": alert.last_value,
            "threshold": alert.threshold,
            "message": alert.message,
            "detail": alert.detail,
            "fired_at": alert.fired_at.isoformat() if alert.fired_at else None,
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        },
    }
    return Notification(event, title, text, document)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def webhook_signature(secret: str, timestamp_s: int, body: bytes) -> str:
    return (
        "sha256=" + hmac.new(secret.encode(), f"{timestamp_s}.".encode() + body, hashlib.sha256).hexdigest()
    )


def send(channel: AlertChannel, note: Notification, timeout: float, ca_file: str | None = None) -> int | None:
    """Deliver one notification; returns the HTTP status (None for e-mail). Raises
    ``DeliveryError`` when the receiver did not take it."""
    if channel.kind == "email":
        _send_email(channel, note, timeout, ca_file)
        return None
    url, headers, body = _http_request(channel, note)
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:500]) from exc
    if response.status_code >= 300:
        raise DeliveryError(f"HTTP {response.status_code}: {response.text[:300]}", response.status_code)
    if channel.kind != "webhook":  # the robots answer 200 with an error code in the body
        try:
            answer = response.json()
        except ValueError as exc:
            raise DeliveryError(f"not JSON: {response.text[:300]}", response.status_code) from exc
        code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
        if code not in (0, None):
            raise DeliveryError(f"{channel.kind} refused: {response.text[:300]}", response.status_code)
    return response.status_code


def _http_request(channel: AlertChannel, note: Notification) -> tuple[str, dict[str, str], bytes]:
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "parkcarbon-alerts"}
    url = channel.target
    now = time.time()
    if channel.kind == "webhook":
        body = orjson.dumps(note.document)
        if channel.secret:
            stamp = int(now)
            headers["X-Parkcarbon-Timestamp"] = str(stamp)
            headers["X-Parkcarbon-Signature"] = webhook_signature(channel.secret, stamp, body)
        return url, headers, body
    if channel.kind == "dingtalk":
        document: dict[str, Any] = {
            "msgtype": "markdown",
            "markdown": {"title": note.title, "text": note.text},
        }
        if channel.secret:
            stamp_ms = int(now * 1000)
            sign = urllib.parse.quote_plus(dingtalk_sign(channel.secret, stamp_ms))
            url += ("&" if "?" in url else "?") + f"timestamp={stamp_ms}&sign={sign}"
    elif channel.kind == "wecom":
        document = {"msgtype": "markdown", "markdown": {"content": f"**{note.title}**\n{note.text}"}}
    else:  # feishu
        document = {"msg_type": "text", "content": {"text": f"{note.title}\n{note.text}"}}
        if channel.secret:
            stamp = int(now)
            document |= {"timestamp": str(stamp), "sign": feishu_sign(channel.secret, stamp)}
    return url, headers, orjson.dumps(document)


def _send_email(channel: AlertChannel, note: Notification, timeout: float, ca_file: str | None) -> None:
    settings = channel.settings
    message = EmailMessage()
    message["Subject"] = note.title
    message["From"] = str(settings.get("from_address") or "parkcarbon@localhost")
    message["To"] = channel.target
    message.set_content(note.text + "\n\n" + orjson.dumps(note.document, option=orjson.OPT_INDENT_2).decode())
    try:
        with smtplib.SMTP(
            str(settings["host"]), int(str(settings.get("port", 587))), timeout=timeout
        ) as smtp:
            if settings.get("starttls", True):
                context = ssl.create_default_context(cafile=ca_file)
                smtp.starttls(context=context)
            if settings.get("username"):
                smtp.login(str(settings["username"]), channel.secret or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:500]) from exc
