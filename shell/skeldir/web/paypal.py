"""PayPal's RSA-SHA256 webhook signature, the one check pgcrypto cannot do (SPEC §5).

The database hands over the tenant's pinned certificates and configured webhook id
(``api.webhook_paypal_keys``); this module checks PayPal's documented scheme,
``RSA-SHA256(transmission_id|transmission_time|webhook_id|crc32(raw body))`` with the CRC-32
as an unsigned decimal, and returns an attestation bound to the certificate and to the
exact body bytes. ``api.webhook_receive`` re-checks what SQL can (certificate pinned for this
tenant, body hash, algorithm, timestamp freshness) before it stores anything.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import zlib
from collections.abc import Iterable, Mapping

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ATTESTATION_HEADER = "x-skeldir-paypal-verification"


@functools.lru_cache(maxsize=256)
def _public_key(pem: str) -> rsa.RSAPublicKey | None:
    try:
        key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    except ValueError:
        return None
    return key if isinstance(key, rsa.RSAPublicKey) else None


def signed_message(transmission_id: str, transmission_time: str, webhook_id: str, body: bytes) -> bytes:
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}".encode()


def attest(headers: Mapping[str, str], body: bytes, keys: Iterable[tuple[str, str]]) -> str | None:
    """The attestation header value when any pinned certificate verifies the delivery, else None."""
    transmission_id = headers.get("paypal-transmission-id")
    transmission_time = headers.get("paypal-transmission-time")
    signature_b64 = headers.get("paypal-transmission-sig")
    if not (transmission_id and transmission_time and signature_b64):
        return None
    if headers.get("paypal-auth-algo", "").upper() != "SHA256WITHRSA":
        return None
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    for webhook_id, pem in keys:
        key = _public_key(pem)
        if key is None:
            continue
        try:
            key.verify(
                signature,
                signed_message(transmission_id, transmission_time, webhook_id, body),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            continue
        return f"v1,{hashlib.sha256(pem.encode()).hexdigest()},{hashlib.sha256(body).hexdigest()}"
    return None
