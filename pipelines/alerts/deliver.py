"""Delivery: a webhook is an HTTP POST of the event as JSON, an e-mail goes through the configured
SMTP server. Each returns None when delivered, else the error as one line; nothing here raises."""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage

from pipelines.alerts.rules import Smtp

WEBHOOK = "webhook"
EMAIL = "email"


def webhook_payload(event: dict) -> dict:
    """What a webhook receives: `text` (the alert in a few lines, as chat webhooks read it) and
    the event record under `alert`."""
    return {
        "text": f"{event['subject']}\n{event['observed']}\n{event['link'] or ''}".strip(),
        "alert": {k: v for k, v in event.items() if k != "text"},
    }


def post_webhook(url: str, event: dict, timeout_s: float) -> str | None:
    """POST the event as JSON; any 2xx answer is a delivery."""
    data = json.dumps(webhook_payload(event), ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "andon-alerts"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            if not 200 <= resp.status < 300:
                return f"HTTP {resp.status}"
        return None
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code} {e.reason}"
    except urllib.error.URLError as e:
        return f"cannot reach {url}: {e.reason}"
    except Exception as e:  # a timeout, a reset connection, a bad answer: recorded, retried
        return f"{type(e).__name__}: {e}"


def send_email(smtp: Smtp | None, to: list[str], event: dict) -> str | None:
    """Send the event's subject and text to `to` through the configured SMTP server."""
    if smtp is None:
        return "no [smtp] settings in alerts.toml"
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = event["subject"]
    msg.set_content(event["text"])
    password = None
    if smtp.user is not None:
        password = os.environ.get(smtp.password_env or "")
        if password is None:
            return f"the SMTP password variable {smtp.password_env} is not set"
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as server:
            if smtp.starttls:
                server.starttls(context=ssl.create_default_context())
            if smtp.user is not None:
                server.login(smtp.user, password)
            server.send_message(msg)
        return None
    except Exception as e:  # refused, timed out, rejected recipients …: recorded, retried
        return f"{type(e).__name__}: {e}"
