"""What a request presents: the access token, its scheme and the DPoP proof (RFC 6750 §2.1,
RFC 9449 §7). Only the ``Authorization`` header is read: tokens in the query string or the form
body (RFC 6750 §2.2, §2.3) end up in logs and caches, so they are not accepted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from deputy.resource.errors import (
    BEARER,
    DPOP,
    AuthenticationRequired,
    InvalidDPoPProof,
    InvalidRequest,
)

__all__ = ["Credentials", "read_credentials"]

# RFC 6750 §2.1 b64token (RFC 9449 §7.1 uses the same token68 syntax)
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
MAX_HEADER_BYTES = 16 * 1024


@dataclass(frozen=True)
class Credentials:
    """An access token as presented. ``method`` and ``url`` are the request's, needed to check a
    DPoP proof's ``htm`` and ``htu``; without them a DPoP-bound token cannot be accepted."""

    token: str = field(repr=False)
    scheme: str = BEARER
    proof: str | None = field(default=None, repr=False)
    method: str | None = None
    url: str | None = None


def read_credentials(
    authorization: Sequence[str], dpop: Sequence[str] = (), *, method: str | None = None, url: str | None = None
) -> Credentials:
    """Parse every ``Authorization`` and ``DPoP`` header value of a request.

    Raises :class:`AuthenticationRequired` when there is no Bearer or DPoP credential (another
    scheme, e.g. Basic, is no credential for this resource), :class:`InvalidRequest` when the
    header is repeated or malformed, :class:`InvalidDPoPProof` when the DPoP header is repeated
    or missing under the DPoP scheme (RFC 9449 §4.3 check 1).
    """
    if not authorization:
        raise AuthenticationRequired("no Authorization header")
    if len(authorization) > 1:
        raise InvalidRequest("more than one Authorization header")
    value = authorization[0].strip()
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() == BEARER.lower():
        canonical = BEARER
    elif scheme.lower() == DPOP.lower():
        canonical = DPOP
    else:
        raise AuthenticationRequired(f"Authorization scheme {scheme[:20]!r} is not Bearer or DPoP")
    if len(value) > MAX_HEADER_BYTES or not _TOKEN68.fullmatch(token):
        raise InvalidRequest(f"malformed {canonical} credentials", scheme=canonical)
    if len(dpop) > 1:
        raise InvalidDPoPProof("more than one DPoP header")
    proof = dpop[0].strip() if dpop else None
    if canonical == DPOP and not proof:
        raise InvalidDPoPProof("DPoP scheme without a DPoP proof")
    return Credentials(token=token, scheme=canonical, proof=proof or None, method=method, url=url)
