"""Credential providers from configuration: a dict, a JSON file, or an environment variable.

    {"providers": {"incident-desk": {
        "flow": "token_exchange",  # client_credentials | on_behalf_of | cross_app_access | user_federation
        "issuer": "https://deputy.example",  # or "token_endpoint": "https://.../token"
        "resource": "https://incidents.example", "audience": null, "scopes": ["incidents:read"],
        "client": {"client_id": "incident-agent", "client_secret_env": "AGENT_SECRET"},
        "actor_token": {"file": "/run/spiffe/jwt-svid", "token_type": "urn:ietf:params:oauth:token-type:jwt"}
    }}}

Secrets never need to be in the file: ``client_secret_env`` / ``private_key_env`` name an
environment variable, ``private_key_file`` a PEM or JWK file. ``client.method`` is
``client_secret_basic`` (default with a secret), ``client_secret_post`` or ``private_key_jwt``
(default with a key; ``kid`` and ``alg`` optional when the JWK has them). Cross-app access adds
``"idp": {"issuer" | "token_endpoint": ..., "client": {...}}`` and optional ``resource_issuer``;
user federation adds ``redirect_uri`` and optional ``authorization_endpoint``.
Unknown keys and missing values raise :class:`ConfigurationError` at load time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deputy.agent.client_auth import ClientAuth, ClientSecret, PrivateKeyJWT
from deputy.agent.errors import ConfigurationError
from deputy.agent.flows import (
    ActorToken,
    ClientCredentials,
    CrossAppAccess,
    OnBehalfOf,
    TokenExchange,
)
from deputy.agent.provider import CredentialProvider, Flow
from deputy.agent.user_federation import UserFederation
from deputy.constants import AUTH_PRIVATE_KEY_JWT, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT

__all__ = ["ENV_VAR", "client_from_dict", "load_providers", "provider_from_dict", "providers_from_dict",
           "providers_from_env"]

ENV_VAR = "DEPUTY_AGENT_PROVIDERS"
_PROVIDER_KEYS = {"flow", "token_endpoint", "issuer", "audience", "resource", "scopes", "client", "actor_token",
                  "requested_token_type", "idp", "resource_issuer", "timeout", "redirect_uri",
                  "authorization_endpoint"}
_CLIENT_KEYS = {"client_id", "client_secret", "client_secret_env", "method", "private_key", "private_key_env",
                "private_key_file", "kid", "alg"}


def _check_keys(where: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigurationError(f"{where}: unknown keys {unknown}")


def _env(where: str, name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigurationError(f"{where}: environment variable {name} is not set")
    return value


def client_from_dict(where: str, data: Mapping[str, Any]) -> ClientAuth:
    """A :class:`ClientSecret` or :class:`PrivateKeyJWT` from a ``client`` section."""
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{where}: client must be an object")
    _check_keys(where, data, _CLIENT_KEYS)
    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise ConfigurationError(f"{where}: client_id is required")
    key: Any = data.get("private_key")
    if "private_key_env" in data:
        key = _env(where, data["private_key_env"])
    if "private_key_file" in data:
        try:
            key = Path(data["private_key_file"]).read_text()
        except OSError as exc:
            raise ConfigurationError(f"{where}: private_key_file: {exc.strerror}") from None
    if isinstance(key, str) and key.lstrip().startswith("{"):
        key = json.loads(key)
    method = data.get("method", AUTH_PRIVATE_KEY_JWT if key is not None else "client_secret_basic")
    if method == AUTH_PRIVATE_KEY_JWT:
        if key is None:
            raise ConfigurationError(f"{where}: private_key_jwt needs private_key, private_key_env or private_key_file")
        return PrivateKeyJWT(client_id, key, kid=data.get("kid"), alg=data.get("alg"))
    secret = _env(where, data["client_secret_env"]) if "client_secret_env" in data else data.get("client_secret")
    if not isinstance(secret, str) or not secret:
        raise ConfigurationError(f"{where}: {method} needs client_secret or client_secret_env")
    return ClientSecret(client_id, secret, method=method)


def _actor(where: str, data: Mapping[str, Any]) -> ActorToken:
    _check_keys(where + ".actor_token", data, {"file", "env", "value", "token_type"})
    token_type = str(data.get("token_type", TOKEN_TYPE_JWT))
    if "file" in data:
        return ActorToken(path=Path(data["file"]), token_type=token_type)
    if "env" in data:
        name = str(data["env"])
        return ActorToken(getter=lambda: _env(where, name), token_type=token_type)
    return ActorToken(value=data.get("value"), token_type=token_type)


def _flow(where: str, data: Mapping[str, Any]) -> Flow:
    kind = data.get("flow")
    if kind == "client_credentials":
        return ClientCredentials()
    if kind == "token_exchange":
        actor = _actor(where, data["actor_token"]) if "actor_token" in data else None
        return TokenExchange(actor=actor, requested_token_type=data.get("requested_token_type", TOKEN_TYPE_ACCESS_TOKEN))
    if kind == "on_behalf_of":
        return OnBehalfOf()
    if kind == "cross_app_access":
        idp = data.get("idp")
        if not isinstance(idp, Mapping):
            raise ConfigurationError(f"{where}: cross_app_access needs an idp section")
        _check_keys(where + ".idp", idp, {"issuer", "token_endpoint", "client"})
        return CrossAppAccess(
            idp_client=client_from_dict(where + ".idp.client", idp.get("client") or {}),
            idp_token_endpoint=idp.get("token_endpoint"), idp_issuer=idp.get("issuer"),
            resource_issuer=data.get("resource_issuer"),
        )
    if kind == "user_federation":
        redirect_uri = data.get("redirect_uri")
        if not isinstance(redirect_uri, str):
            raise ConfigurationError(f"{where}: user_federation needs redirect_uri")
        return UserFederation(redirect_uri, authorization_endpoint=data.get("authorization_endpoint"))
    raise ConfigurationError(
        f"{where}: flow must be client_credentials, token_exchange, on_behalf_of, cross_app_access or "
        f"user_federation, not {kind!r}"
    )


def provider_from_dict(name: str, data: Mapping[str, Any]) -> CredentialProvider:
    where = f"provider {name!r}"
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{where}: must be an object")
    _check_keys(where, data, _PROVIDER_KEYS)
    scopes = data.get("scopes", ())
    if isinstance(scopes, str):
        scopes = scopes.split()
    return CredentialProvider(
        name=name,
        flow=_flow(where, data),
        client=client_from_dict(where + ".client", data.get("client") or {}),
        token_endpoint=data.get("token_endpoint"),
        issuer=data.get("issuer"),
        audience=data.get("audience"),
        resource=data.get("resource"),
        scopes=tuple(scopes),
        timeout=float(data.get("timeout", 10.0)),
    )


def providers_from_dict(data: Mapping[str, Any]) -> list[CredentialProvider]:
    """Providers from ``{"providers": {name: {...}}}`` (or the inner mapping itself)."""
    section = data.get("providers", data) if isinstance(data, Mapping) else None
    if not isinstance(section, Mapping):
        raise ConfigurationError("providers must be an object of name -> provider")
    return [provider_from_dict(str(name), spec) for name, spec in section.items()]


def load_providers(path: str | Path) -> list[CredentialProvider]:
    """Providers from a JSON file."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigurationError(f"{path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigurationError(f"{path}: not JSON ({exc})") from None
    return providers_from_dict(data)


def providers_from_env(var: str = ENV_VAR) -> list[CredentialProvider]:
    """Providers from an environment variable holding JSON, or the path of a JSON file."""
    value = _env("configuration", var).strip()
    if value.startswith("{"):
        try:
            return providers_from_dict(json.loads(value))
        except ValueError as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(f"{var}: not JSON ({exc})") from None
    return load_providers(value)
