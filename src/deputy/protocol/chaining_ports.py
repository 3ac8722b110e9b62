"""What issuing ID-JAGs needs from storage (Deputy as the enterprise IdP in cross-app access,
docs/dialects.md), declared next to its consumer as small Protocols."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from deputy.protocol.sign_in_ports import Consent, RefreshToken
from deputy.realm import PartnerServer


class PartnerDirectory(Protocol):
    def get_partner(self, issuer: str) -> PartnerServer | None: ...


class RefreshTokenReader(Protocol):
    def get_refresh_token(self, token_hash: str) -> RefreshToken | None: ...


class ConsentReader(Protocol):
    def get_consent(self, consent_id: str) -> Consent | None: ...


@dataclass(frozen=True)
class IdentityChaining:
    """Partner authorization servers, and (optionally) the sign-in ledgers that let a refresh token
    be the subject of an ID-JAG request. Without the ledgers, refresh tokens are refused."""

    partners: PartnerDirectory
    refresh_tokens: RefreshTokenReader | None = None
    consents: ConsentReader | None = None
