"""Users, groups, agents, resources and entitlements in SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from deputy.realm import Agent, AgentKey, AgentSecret, AgentStatus, Entitlement, Group, Resource, ResourceGrant, User
from deputy.storage.database import Database
from deputy.storage.schema import (
    agent_grants,
    agent_keys,
    agent_secrets,
    agents,
    entitlements,
    groups,
    memberships,
    resources,
    users,
)


class RealmStore:
    """Reads return immutable realm objects; writes happen inside a caller's transaction so that
    a change and its audit event commit together (see :class:`deputy.realm.admin.RealmAdmin`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- reads ---------------------------------------------------------------------------------
    def get_user(self, username: str) -> User | None:
        with self._db.read() as conn:
            return self._user(conn, username)

    @staticmethod
    def _user(conn: Connection, username: str) -> User | None:
        row = conn.execute(select(users).where(users.c.username == username)).first()
        if row is None:
            return None
        group_rows = conn.execute(
            select(memberships.c.group_name).where(memberships.c.username == username).order_by(memberships.c.group_name)
        )
        return User(row.username, row.display_name, row.email, tuple(g.group_name for g in group_rows), row.disabled)

    def list_users(self) -> list[User]:
        with self._db.read() as conn:
            names = [r.username for r in conn.execute(select(users.c.username).order_by(users.c.username))]
            return [u for n in names if (u := self._user(conn, n)) is not None]

    def list_groups(self) -> list[Group]:
        with self._db.read() as conn:
            return [Group(r.name, r.description) for r in conn.execute(select(groups).order_by(groups.c.name))]

    def get_group(self, name: str) -> Group | None:
        with self._db.read() as conn:
            row = conn.execute(select(groups).where(groups.c.name == name)).first()
        return None if row is None else Group(row.name, row.description)

    def get_resource(self, identifier: str) -> Resource | None:
        with self._db.read() as conn:
            row = conn.execute(select(resources).where(resources.c.identifier == identifier)).first()
        return None if row is None else _resource(row)

    def list_resources(self) -> list[Resource]:
        with self._db.read() as conn:
            return [_resource(r) for r in conn.execute(select(resources).order_by(resources.c.identifier))]

    def get_agent(self, client_id: str) -> Agent | None:
        with self._db.read() as conn:
            return self._agent(conn, client_id)

    @staticmethod
    def _agent(conn: Connection, client_id: str) -> Agent | None:
        row = conn.execute(select(agents).where(agents.c.client_id == client_id)).first()
        if row is None:
            return None
        grants = conn.execute(
            select(agent_grants).where(agent_grants.c.client_id == client_id).order_by(agent_grants.c.resource)
        )
        secrets = conn.execute(
            select(agent_secrets).where(agent_secrets.c.client_id == client_id).order_by(agent_secrets.c.created_at)
        )
        keys = conn.execute(select(agent_keys).where(agent_keys.c.client_id == client_id).order_by(agent_keys.c.kid))
        return Agent(
            client_id=row.client_id,
            name=row.name,
            description=row.description,
            owners=tuple(row.owners),
            status=AgentStatus(row.status),
            may_impersonate=row.may_impersonate,
            subject_users=tuple(row.subject_users),
            subject_groups=tuple(row.subject_groups),
            audiences=tuple(row.audiences),
            redirect_uris=tuple(row.redirect_uris or ()),
            public_client=bool(row.public_client),
            resource_grants=tuple(ResourceGrant(g.resource, tuple(g.scopes)) for g in grants),
            secrets=tuple(AgentSecret(s.secret_id, s.secret_hash, int(s.created_at), s.expires_at) for s in secrets),
            keys=tuple(AgentKey(k.kid, dict(k.jwk), int(k.created_at)) for k in keys),
        )

    def list_agents(self) -> list[Agent]:
        with self._db.read() as conn:
            ids = [r.client_id for r in conn.execute(select(agents.c.client_id).order_by(agents.c.client_id))]
            return [a for i in ids if (a := self._agent(conn, i)) is not None]

    def user_entitlements(self, username: str, resource: str) -> frozenset[str]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(entitlements.c.scopes)
                .join(memberships, memberships.c.group_name == entitlements.c.group_name)
                .where(memberships.c.username == username, entitlements.c.resource == resource)
            )
            return frozenset(scope for row in rows for scope in row.scopes)

    def list_entitlements(self) -> list[Entitlement]:
        with self._db.read() as conn:
            rows = conn.execute(select(entitlements).order_by(entitlements.c.group_name, entitlements.c.resource))
            return [Entitlement(r.group_name, r.resource, tuple(r.scopes)) for r in rows]

    # -- writes (inside the caller's transaction) ------------------------------------------------
    @staticmethod
    def put_user(conn: Connection, user: User) -> None:
        values = {"display_name": user.display_name, "email": user.email, "disabled": user.disabled}
        if conn.execute(select(users.c.username).where(users.c.username == user.username)).first():
            conn.execute(update(users).where(users.c.username == user.username).values(**values))
        else:
            conn.execute(insert(users).values(username=user.username, **values))
        conn.execute(delete(memberships).where(memberships.c.username == user.username))
        for group in dict.fromkeys(user.groups):
            conn.execute(insert(memberships).values(username=user.username, group_name=group))

    @staticmethod
    def delete_user(conn: Connection, username: str) -> None:
        conn.execute(delete(memberships).where(memberships.c.username == username))
        conn.execute(delete(users).where(users.c.username == username))

    @staticmethod
    def put_group(conn: Connection, group: Group) -> None:
        if conn.execute(select(groups.c.name).where(groups.c.name == group.name)).first():
            conn.execute(update(groups).where(groups.c.name == group.name).values(description=group.description))
        else:
            conn.execute(insert(groups).values(name=group.name, description=group.description))

    @staticmethod
    def delete_group(conn: Connection, name: str) -> None:
        conn.execute(delete(memberships).where(memberships.c.group_name == name))
        conn.execute(delete(entitlements).where(entitlements.c.group_name == name))
        conn.execute(delete(groups).where(groups.c.name == name))

    @staticmethod
    def put_resource(conn: Connection, resource: Resource) -> None:
        values = {
            "name": resource.name, "scopes": list(resource.scopes),
            "signing_alg": resource.signing_alg, "token_ttl": resource.token_ttl,
            "approval_scopes": list(resource.approval_scopes) or None,
        }
        if conn.execute(select(resources.c.identifier).where(resources.c.identifier == resource.identifier)).first():
            conn.execute(update(resources).where(resources.c.identifier == resource.identifier).values(**values))
        else:
            conn.execute(insert(resources).values(identifier=resource.identifier, **values))

    @staticmethod
    def delete_resource(conn: Connection, identifier: str) -> None:
        conn.execute(delete(entitlements).where(entitlements.c.resource == identifier))
        conn.execute(delete(agent_grants).where(agent_grants.c.resource == identifier))
        conn.execute(delete(resources).where(resources.c.identifier == identifier))

    @staticmethod
    def put_entitlement(conn: Connection, ent: Entitlement) -> None:
        conn.execute(
            delete(entitlements).where(entitlements.c.group_name == ent.group, entitlements.c.resource == ent.resource)
        )
        if ent.scopes:
            conn.execute(insert(entitlements).values(group_name=ent.group, resource=ent.resource, scopes=list(ent.scopes)))

    @staticmethod
    def put_agent(conn: Connection, agent: Agent, now: int) -> None:
        """Store the agent's settings and grants; secrets and keys are managed separately."""
        values: dict[str, Any] = {
            "name": agent.name, "description": agent.description, "owners": list(agent.owners),
            "status": agent.status.value, "may_impersonate": agent.may_impersonate,
            "subject_users": list(agent.subject_users), "subject_groups": list(agent.subject_groups),
            "audiences": list(agent.audiences), "updated_at": now,
            "redirect_uris": list(agent.redirect_uris), "public_client": agent.public_client,
        }
        if conn.execute(select(agents.c.client_id).where(agents.c.client_id == agent.client_id)).first():
            conn.execute(update(agents).where(agents.c.client_id == agent.client_id).values(**values))
        else:
            conn.execute(insert(agents).values(client_id=agent.client_id, **values))
        conn.execute(delete(agent_grants).where(agent_grants.c.client_id == agent.client_id))
        for grant in agent.resource_grants:
            conn.execute(
                insert(agent_grants).values(client_id=agent.client_id, resource=grant.resource, scopes=list(grant.scopes))
            )

    @staticmethod
    def delete_agent(conn: Connection, client_id: str) -> None:
        for table in (agent_grants, agent_secrets, agent_keys, agents):
            conn.execute(delete(table).where(table.c.client_id == client_id))

    @staticmethod
    def add_secret(conn: Connection, client_id: str, secret: AgentSecret) -> None:
        conn.execute(
            insert(agent_secrets).values(
                secret_id=secret.secret_id, client_id=client_id, secret_hash=secret.secret_hash,
                created_at=secret.created_at, expires_at=secret.expires_at,
            )
        )

    @staticmethod
    def remove_secrets(conn: Connection, client_id: str, except_id: str | None = None) -> None:
        query = delete(agent_secrets).where(agent_secrets.c.client_id == client_id)
        if except_id is not None:
            query = query.where(agent_secrets.c.secret_id != except_id)
        conn.execute(query)

    @staticmethod
    def expire_secrets(conn: Connection, client_id: str, except_id: str, at: int) -> None:
        """Let every other secret of the client work until ``at`` (rotation with a grace period)."""
        conn.execute(
            update(agent_secrets)
            .where(agent_secrets.c.client_id == client_id, agent_secrets.c.secret_id != except_id)
            .where((agent_secrets.c.expires_at.is_(None)) | (agent_secrets.c.expires_at > at))
            .values(expires_at=at)
        )

    @staticmethod
    def add_key(conn: Connection, client_id: str, key: AgentKey) -> None:
        conn.execute(delete(agent_keys).where(agent_keys.c.client_id == client_id, agent_keys.c.kid == key.kid))
        conn.execute(insert(agent_keys).values(client_id=client_id, kid=key.kid, jwk=key.jwk, created_at=key.created_at))

    @staticmethod
    def remove_key(conn: Connection, client_id: str, kid: str) -> None:
        conn.execute(delete(agent_keys).where(agent_keys.c.client_id == client_id, agent_keys.c.kid == kid))


def _resource(row: Any) -> Resource:
    return Resource(
        row.identifier, row.name, tuple(row.scopes), row.signing_alg, int(row.token_ttl),
        tuple(row.approval_scopes or ()),
    )
