"""Standard Webhooks signing (https://www.standardwebhooks.com): the webhook notification
channel, runbook webhook hooks and the HTTP serving adapter all sign their bodies this way.

``webhook-signature: v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac


def signing_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: ``whsec_<base64>`` (or bare base64)."""
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not a Standard Webhooks secret (expected whsec_<base64>)") from None
    if not key:
        raise ValueError("the Standard Webhooks secret is empty")
    return key


def standard_webhook_signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()
