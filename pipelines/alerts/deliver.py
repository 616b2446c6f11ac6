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

from pipelines import snapshot
from pipelines.alerts.link import base_url
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


def send_email(
    smtp: Smtp | None,
    to: list[str],
    event: dict,
    attachments: list[tuple[str, bytes]] = (),
    note: str | None = None,
) -> str | None:
    """Send the event's subject and text (and a note after it) to `to` through the configured
    SMTP server, with the attachments (file name, bytes: a .pdf or a .png)."""
    if smtp is None:
        return "no [smtp] settings in alerts.toml"
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = event["subject"]
    msg.set_content(event["text"] + (f"\n{note}\n" if note else ""))
    for name, data in attachments:
        kind = "pdf" if name.endswith(".pdf") else "png"
        maintype, subtype = snapshot.MIME[kind].split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
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


def attachment_name(event: dict, fmt: str) -> str:
    """'andon-scrap-p-2026-03-04.pdf': the rule or report and the day of its data."""
    day = event.get("last_day") or event.get("as_of") or event.get("time", "")[:10]
    return f"andon-{event['rule']}-{day}.{fmt}"


def send_outbox_email(smtp: Smtp | None, item: dict, ticket: str | None = None) -> str | None:
    """An outbox e-mail, with the view of its event as PDF or PNG when it asks for one. When the
    view cannot be made, an alert goes without it (a note says why) and a report is not sent
    (the error; it is retried). `ticket` lets the view in when the dashboard asks for a login."""
    event, fmt = item["record"], item.get("attach")
    if not fmt or not event.get("link") or smtp is None:
        return send_email(smtp, item["to"], event)
    try:
        data = snapshot.capture(event["link"], fmt, ticket=ticket)
    except snapshot.SnapshotError as e:
        why = f"{e} (the dashboard is reached at {base_url()}, set by ANDON_BASE_URL)"
        if item.get("attach_required"):
            return f"no {fmt.upper()} of the view: {why}"
        return send_email(smtp, item["to"], event, note=f"The {fmt.upper()} of the view: {why}")
    return send_email(smtp, item["to"], event, [(attachment_name(event, fmt), data)])
