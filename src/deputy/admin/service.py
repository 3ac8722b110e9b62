"""Realm administration: each change and its audit event commit in one transaction."""

from __future__ import annotations

import secrets as stdlib_secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import import_key

from deputy.accounts import Accounts
from deputy.accounts.passwords import is_password_hash
from deputy.admin.issuer_schema import trusted_issuer_to_dict
from deputy.admin.partner_schema import partner_server_to_dict
from deputy.audit import AuditEvent
from deputy.config import Settings
from deputy.constants import TYP_ACCESS_TOKEN
from deputy.errors import Conflict, InvalidInput, NotFound
from deputy.jose import StoredKey
from deputy.protocol.ports import TokenRecord
from deputy.protocol.sign_in_ports import Consent
from deputy.protocol.tokens import access_token_claims
from deputy.realm import (
    Agent,
    AgentKey,
    AgentSecret,
    AgentStatus,
    Entitlement,
    Group,
    PartnerServer,
    Resource,
    TrustedIssuer,
    User,
)
from deputy.secret import Secret, hash_secret, new_client_secret, new_token_id
from deputy.storage import Store
from deputy.storage.audit_store import append_in

DEV_USER_TOKEN_GRANT = "urn:deputy:dev-user-token"


@dataclass(frozen=True)
class IssuedSecret:
    client_id: str
    secret_id: str
    secret: Secret


def _invalid(text: str) -> InvalidInput:
    return InvalidInput("invalid_input", text, public=text)


class RealmAdmin:
    def __init__(self, store: Store, settings: Settings, actor: str = "admin") -> None:
        self.store = store
        self.settings = settings
        self.actor = actor

    @property
    def _now(self) -> int:
        return self.store.clock.now()

    def _event(self, type_: str, **data: Any) -> AuditEvent:
        return AuditEvent(type=type_, admin=self.actor, data=data)

    # -- users and groups ----------------------------------------------------------------------
    def put_user(self, user: User) -> User:
        with self.store.db.write(audit=True) as conn:
            for group in user.groups:
                if self.store.realm.get_group(group) is None:
                    self.store.realm.put_group(conn, Group(group))
            self.store.realm.put_user(conn, user)
            append_in(conn, replace(self._event("user.saved", groups=list(user.groups), disabled=user.disabled), subject=user.username), self._now)
        return user

    def delete_user(self, username: str) -> None:
        self._require_user(username)
        with self.store.db.write(audit=True) as conn:
            self.store.realm.delete_user(conn, username)
            append_in(conn, replace(self._event("user.deleted"), subject=username), self._now)

    def _require_user(self, username: str) -> User:
        user = self.store.realm.get_user(username)
        if user is None:
            raise NotFound("not_found", f"user {username}", public=f"No user {username!r}.")
        return user

    def put_group(self, group: Group) -> Group:
        with self.store.db.write(audit=True) as conn:
            self.store.realm.put_group(conn, group)
            append_in(conn, self._event("group.saved", group=group.name), self._now)
        return group

    def delete_group(self, name: str) -> None:
        if self.store.realm.get_group(name) is None:
            raise NotFound("not_found", f"group {name}", public=f"No group {name!r}.")
        with self.store.db.write(audit=True) as conn:
            self.store.realm.delete_group(conn, name)
            append_in(conn, self._event("group.deleted", group=name), self._now)

    # -- resources and entitlements ------------------------------------------------------------
    def put_resource(self, resource: Resource) -> Resource:
        with self.store.db.write(audit=True) as conn:
            self.store.realm.put_resource(conn, resource)
            event = self._event(
                "resource.saved", scopes=list(resource.scopes), signing_alg=resource.signing_alg,
                token_ttl=resource.token_ttl, approval_scopes=list(resource.approval_scopes),
            )
            append_in(conn, replace(event, audience=(resource.identifier,)), self._now)
        return resource

    def delete_resource(self, identifier: str) -> None:
        self._require_resource(identifier)
        with self.store.db.write(audit=True) as conn:
            self.store.realm.delete_resource(conn, identifier)
            append_in(conn, replace(self._event("resource.deleted"), audience=(identifier,)), self._now)

    def _require_resource(self, identifier: str) -> Resource:
        resource = self.store.realm.get_resource(identifier)
        if resource is None:
            raise NotFound("not_found", f"resource {identifier}", public=f"No resource {identifier!r}.")
        return resource

    def set_entitlement(self, ent: Entitlement) -> Entitlement:
        resource = self._require_resource(ent.resource)
        unknown = set(ent.scopes) - set(resource.scopes)
        if unknown:
            raise _invalid(f"scopes {sorted(unknown)} are not defined by {ent.resource}")
        with self.store.db.write(audit=True) as conn:
            if self.store.realm.get_group(ent.group) is None:
                self.store.realm.put_group(conn, Group(ent.group))
            self.store.realm.put_entitlement(conn, ent)
            append_in(conn, replace(self._event("entitlement.saved", group=ent.group, scopes=list(ent.scopes)), audience=(ent.resource,)), self._now)
        return ent

    # -- agents --------------------------------------------------------------------------------
    def get_agent(self, client_id: str) -> Agent:
        agent = self.store.realm.get_agent(client_id)
        if agent is None:
            raise NotFound("not_found", f"agent {client_id}", public=f"No agent {client_id!r}.")
        return agent

    def create_agent(self, agent: Agent, *, with_secret: bool = True) -> IssuedSecret | None:
        if self.store.realm.get_agent(agent.client_id) is not None:
            raise Conflict("conflict", f"agent {agent.client_id}", public=f"Agent {agent.client_id!r} already exists.")
        self._check_agent_refs(agent)
        issued = None
        with self.store.db.write(audit=True) as conn:
            self.store.realm.put_agent(conn, agent, self._now)
            if with_secret:
                issued = self._new_secret_in(conn, agent.client_id)
            append_in(conn, replace(self._event("agent.created", status=agent.status.value), client_id=agent.client_id), self._now)
        return issued

    def update_agent(self, agent: Agent) -> Agent:
        current = self.get_agent(agent.client_id)
        self._check_agent_refs(agent)
        with self.store.db.write(audit=True) as conn:
            self.store.realm.put_agent(conn, agent, self._now)
            revoked = 0
            if agent.status is not AgentStatus.ACTIVE and current.status != agent.status:
                revoked = self.store.tokens.revoke_by_actor_in(conn, agent.client_id, f"agent {agent.status.value}", self._now)
            append_in(conn, replace(self._event("agent.updated", status=agent.status.value, revoked_tokens=revoked), client_id=agent.client_id), self._now)
        return agent

    def put_agent(self, agent: Agent) -> Agent:
        """Create or update without touching credentials (used by realm files)."""
        if self.store.realm.get_agent(agent.client_id) is None:
            self.create_agent(agent, with_secret=False)
            return agent
        return self.update_agent(agent)

    def _check_agent_refs(self, agent: Agent) -> None:
        for grant in agent.resource_grants:
            resource = self.store.realm.get_resource(grant.resource)
            if resource is None:
                raise _invalid(f"agent {agent.client_id}: resource {grant.resource!r} does not exist")
            unknown = set(grant.scopes) - set(resource.scopes)
            if unknown:
                raise _invalid(f"agent {agent.client_id}: scopes {sorted(unknown)} are not defined by {grant.resource}")

    def set_agent_status(self, client_id: str, status: AgentStatus) -> tuple[Agent, int]:
        """Suspending or retiring revokes every live token the agent acted in, in the same commit."""
        agent = self.get_agent(client_id)
        updated = replace(agent, status=status)
        with self.store.db.write(audit=True) as conn:
            self.store.realm.put_agent(conn, updated, self._now)
            revoked = 0
            if status is not AgentStatus.ACTIVE and agent.status is not status:
                revoked = self.store.tokens.revoke_by_actor_in(conn, client_id, f"agent {status.value}", self._now)
            event = self._event(f"agent.{ {'active': 'activated', 'suspended': 'suspended', 'retired': 'retired', 'staged': 'staged'}[status.value] }", previous=agent.status.value, revoked_tokens=revoked)
            append_in(conn, replace(event, client_id=client_id), self._now)
        return updated, revoked

    def delete_agent(self, client_id: str) -> None:
        self.get_agent(client_id)
        with self.store.db.write(audit=True) as conn:
            revoked = self.store.tokens.revoke_by_actor_in(conn, client_id, "agent deleted", self._now)
            self.store.realm.delete_agent(conn, client_id)
            append_in(conn, replace(self._event("agent.deleted", revoked_tokens=revoked), client_id=client_id), self._now)

    def _new_secret_in(self, conn: Any, client_id: str, expires_at: int | None = None) -> IssuedSecret:
        secret = new_client_secret()
        secret_id = stdlib_secrets.token_hex(6)
        self.store.realm.add_secret(conn, client_id, AgentSecret(secret_id, hash_secret(secret.reveal()), self._now, expires_at))
        return IssuedSecret(client_id, secret_id, secret)

    def new_secret(self, client_id: str, *, replace_existing: bool = False, grace_seconds: int = 0) -> IssuedSecret:
        """Add a client secret. With ``replace_existing`` the others stop working (rotation):
        at once, or after ``grace_seconds`` so that running agents can pick up the new one."""
        if grace_seconds < 0:
            raise _invalid("grace_seconds must not be negative")
        self.get_agent(client_id)
        with self.store.db.write(audit=True) as conn:
            issued = self._new_secret_in(conn, client_id)
            if replace_existing and grace_seconds:
                self.store.realm.expire_secrets(conn, client_id, issued.secret_id, self._now + grace_seconds)
            elif replace_existing:
                self.store.realm.remove_secrets(conn, client_id, except_id=issued.secret_id)
            event = self._event(
                "agent.secret_created", secret_id=issued.secret_id, replaced=replace_existing, grace_seconds=grace_seconds
            )
            append_in(conn, replace(event, client_id=client_id), self._now)
        return issued

    def set_secret(self, client_id: str, secret: str) -> None:
        """Register a known secret (for realm files in development); prefer :meth:`new_secret`."""
        if len(secret) < 16:
            raise _invalid("a client secret must be at least 16 characters")
        with self.store.db.write(audit=True) as conn:
            self.store.realm.remove_secrets(conn, client_id)
            self.store.realm.add_secret(conn, client_id, AgentSecret("configured", hash_secret(secret), self._now))
            append_in(conn, replace(self._event("agent.secret_created", secret_id="configured"), client_id=client_id), self._now)

    @staticmethod
    def check_public_jwk(jwk: object) -> str:
        """Validate a public key for private_key_jwt; returns its kid."""
        if not isinstance(jwk, Mapping):
            raise _invalid("a key must be a JWK object")
        if "d" in jwk or jwk.get("kty") == "oct":
            raise _invalid("register a public asymmetric key (no private part, no symmetric key)")
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _invalid("the key must have a 'kid'")
        try:
            import_key(dict(jwk))
        except (JoseError, ValueError, TypeError) as exc:
            raise _invalid(f"not a valid JWK: {exc.__class__.__name__}") from None
        return kid

    def add_key(self, client_id: str, jwk: Mapping[str, Any]) -> AgentKey:
        self.get_agent(client_id)
        kid = self.check_public_jwk(jwk)
        key = AgentKey(kid, dict(jwk), self._now)
        with self.store.db.write(audit=True) as conn:
            self.store.realm.add_key(conn, client_id, key)
            append_in(conn, replace(self._event("agent.key_added", kid=kid), client_id=client_id), self._now)
        return key

    def remove_key(self, client_id: str, kid: str) -> None:
        agent = self.get_agent(client_id)
        if not any(k.kid == kid for k in agent.keys):
            raise NotFound("not_found", f"key {kid}", public=f"Agent {client_id!r} has no key {kid!r}.")
        with self.store.db.write(audit=True) as conn:
            self.store.realm.remove_key(conn, client_id, kid)
            append_in(conn, replace(self._event("agent.key_removed", kid=kid), client_id=client_id), self._now)

    # -- trusted external issuers (docs/trusted-issuers.md) ------------------------------------
    def check_issuer(self, issuer: TrustedIssuer, known_agents: Iterable[str] = ()) -> None:
        """What :meth:`put_issuer` refuses, checked on its own (realm files check before writing).
        ``known_agents``: agents about to be created, which count as existing."""
        if issuer.issuer == self.settings.issuer:
            raise _invalid(f"issuer {issuer.issuer}: that is Deputy's own issuer")
        pending = set(known_agents)
        for client_id, _ in issuer.agent_audiences:
            if client_id not in pending and self.store.realm.get_agent(client_id) is None:
                raise _invalid(f"issuer {issuer.issuer}: agent_audiences names agent {client_id!r}, which does not exist")

    def put_issuer(self, issuer: TrustedIssuer) -> TrustedIssuer:
        """Create or replace a trusted issuer (groups its group_map names are created if missing)."""
        self.check_issuer(issuer)
        with self.store.db.write(audit=True) as conn:
            for group in dict.fromkeys(g for _, g in issuer.group_map):
                if self.store.realm.get_group(group) is None:
                    self.store.realm.put_group(conn, Group(group))
            self.store.issuers.put(conn, issuer, self._now)
            append_in(conn, self._event("issuer.saved", **trusted_issuer_to_dict(issuer)), self._now)
        return issuer

    def get_issuer(self, issuer: str) -> TrustedIssuer:
        found = self.store.issuers.get_trusted_issuer(issuer)
        if found is None:
            raise NotFound("not_found", f"issuer {issuer}", public=f"No trusted issuer {issuer!r}.")
        return found

    def delete_issuer(self, issuer: str) -> None:
        """Stop trusting an issuer. Tokens already exchanged from its tokens stay live until they
        expire or are revoked (Deputy keeps no link to the external token)."""
        self.get_issuer(issuer)
        with self.store.db.write(audit=True) as conn:
            self.store.issuers.delete(conn, issuer)
            append_in(conn, self._event("issuer.deleted", issuer=issuer), self._now)

    # -- partner authorization servers: ID-JAGs for cross-app access (docs/dialects.md) -------
    def check_partner(self, partner: PartnerServer, known_agents: Iterable[str] = ()) -> None:
        """What :meth:`put_partner` refuses, checked on its own (realm files check before writing).
        ``known_agents``: agents about to be created, which count as existing."""
        if partner.issuer == self.settings.issuer:
            raise _invalid(f"partner {partner.issuer}: that is Deputy's own issuer (an ID-JAG is for another server)")
        pending = set(known_agents)
        for client_id, _ in partner.agent_clients:
            if client_id not in pending and self.store.realm.get_agent(client_id) is None:
                raise _invalid(f"partner {partner.issuer}: agent_clients names agent {client_id!r}, which does not exist")

    def put_partner(self, partner: PartnerServer) -> PartnerServer:
        """Create or replace a partner authorization server."""
        self.check_partner(partner)
        with self.store.db.write(audit=True) as conn:
            self.store.partners.put(conn, partner, self._now)
            append_in(conn, replace(self._event("partner.saved", **partner_server_to_dict(partner)), audience=(partner.issuer,)), self._now)
        return partner

    def get_partner(self, issuer: str) -> PartnerServer:
        found = self.store.partners.get_partner(issuer)
        if found is None:
            raise NotFound("not_found", f"partner {issuer}", public=f"No partner authorization server {issuer!r}.")
        return found

    def delete_partner(self, issuer: str) -> None:
        """Stop issuing ID-JAGs for a partner (those already issued expire within minutes)."""
        self.get_partner(issuer)
        with self.store.db.write(audit=True) as conn:
            self.store.partners.delete(conn, issuer)
            append_in(conn, replace(self._event("partner.deleted", issuer=issuer), audience=(issuer,)), self._now)

    # -- tokens and keys -----------------------------------------------------------------------
    def issue_user_token(
        self, username: str, client_id: str, scopes: Iterable[str] = ("openid",), ttl: int | None = None,
        may_act: Mapping[str, Any] | None = None,
    ) -> str:
        """A user's access token for an agent: the development stand-in for sign-in."""
        user = self._require_user(username)
        if user.disabled:
            raise _invalid(f"user {username!r} is disabled")
        agent = self.get_agent(client_id)
        now = self._now
        jti = new_token_id()
        ttl = ttl or self.settings.user_token_ttl
        extra: dict[str, Any] = {"sub_profile": "user"}
        if may_act:
            extra["may_act"] = dict(may_act)
        scope_list = tuple(sorted(set(scopes)))
        claims = access_token_claims(
            issuer=self.settings.issuer, subject=username, audience=agent.client_id, client_id=agent.client_id,
            scopes=scope_list, jti=jti, now=now, ttl=ttl, extra=extra,
        )
        token = self.store.keys.key_ring().sign(claims, typ=TYP_ACCESS_TOKEN)
        record = TokenRecord(jti, username, agent.client_id, DEV_USER_TOKEN_GRANT, "user", now, now + ttl, (agent.client_id,), scope_list)
        event = AuditEvent(
            type="token.issued", client_id=agent.client_id, subject=username, audience=(agent.client_id,),
            grant_type=DEV_USER_TOKEN_GRANT, scope_granted=scope_list, mode="user", jti=jti, admin=self.actor,
        )
        self.store.tokens.record_issuance(record, event)
        return token

    # -- sign-in: passwords and consents (docs/sign-in.md) -------------------------------------
    def set_password(self, username: str, password: str) -> None:
        """Set a local user's sign-in password (hashed with argon2id; clears any lock-out)."""
        self._accounts().set_password(username, password, admin=self.actor)

    def set_password_hash(self, username: str, password_hash: str) -> None:
        """Store an argon2id hash made elsewhere (realm files may ship one instead of a password)."""
        self._require_user(username)
        if not is_password_hash(password_hash):
            raise _invalid(f"user {username!r}: password_hash must be an argon2id hash")
        self._accounts().set_password_hash(username, password_hash, admin=self.actor)

    def _accounts(self) -> Accounts:
        return Accounts(self.store.accounts, self.store.realm, self.store.audit, self.settings, self.store.clock)

    def list_consents(self, username: str | None = None, *, include_withdrawn: bool = False) -> list[Consent]:
        return self.store.consents.list_consents(username, include_withdrawn=include_withdrawn)

    def withdraw_consent(self, consent_id: str, *, by_user: str | None = None) -> int:
        """Withdraw a consent (delegation grant): every token issued under it, everything exchanged
        from those, and its refresh tokens are revoked in the same commit. Returns the count.
        ``by_user``: the signed-in user withdrawing their own grant (else an administrator)."""
        consent = self.store.consents.get_consent(consent_id)
        if consent is None or (by_user is not None and consent.username != by_user):
            raise NotFound("not_found", f"consent {consent_id}", public=f"No consent {consent_id!r}.")
        event = AuditEvent(
            type="consent.withdrawn", client_id=consent.client_id, subject=consent.username,
            audience=(consent.resource,) if consent.resource else (), scope_granted=consent.scopes,
            admin=None if by_user is not None else self.actor,
            data={"consent_id": consent_id, "by": by_user or self.actor},
        )
        return self.store.consents.withdraw_consent(consent_id, self._now, event)

    def revoke_token(self, jti: str, reason: str = "revoked by administrator") -> int:
        record = self.store.tokens.get_token(jti)
        if record is None:
            raise NotFound("not_found", f"token {jti}", public=f"No token with jti {jti!r}.")
        event = AuditEvent(
            type="token.revoked", admin=self.actor, client_id=record.client_id, subject=record.subject,
            actor_chain=record.actors, audience=record.audience, jti=jti, parent_jti=record.parent_jti, reason=reason,
        )
        return self.store.tokens.revoke(jti, reason, self._now, event)

    def rotate_key(self, alg: str, overlap_seconds: int | None = None) -> StoredKey:
        if alg not in ("ES256", "RS256"):
            raise _invalid("alg must be ES256 or RS256")
        # An explicit 0 retires the old key at once (compromise); only None means "the default".
        overlap = self.settings.key_overlap_seconds if overlap_seconds is None else overlap_seconds
        if overlap < 0:
            raise _invalid("overlap_seconds must not be negative")
        key = self.store.keys.rotate(alg, overlap)
        self.store.audit.append(self._event("key.rotated", kid=key.kid, alg=alg))
        return key
