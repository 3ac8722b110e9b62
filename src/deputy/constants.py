"""Every grant-type, token-type and assertion-type URN Deputy speaks, in one place."""

from __future__ import annotations

from typing import Final

# Grant types (RFC 6749 §4.4, RFC 8693 §2.1, RFC 7523 §2.1)
GRANT_CLIENT_CREDENTIALS: Final = "client_credentials"
GRANT_TOKEN_EXCHANGE: Final = "urn:ietf:params:oauth:grant-type:token-exchange"
GRANT_JWT_BEARER: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GRANT_AUTHORIZATION_CODE: Final = "authorization_code"  # RFC 6749 §4.1
GRANT_REFRESH_TOKEN: Final = "refresh_token"  # RFC 6749 §6
GRANT_CIBA: Final = "urn:openid:params:grant-type:ciba"  # OpenID CIBA Core §10.1
# Microsoft's Agent ID on-behalf-of page writes the grant type with an underscore: a dialect that
# is accepted as an input and never emitted (SPECS.md §2, pitfall 11).
GRANT_JWT_BEARER_UNDERSCORE: Final = "urn:ietf:params:oauth:grant-type:jwt_bearer"
# Entra on-behalf-of: requested_token_use=on_behalf_of on the jwt-bearer grant
REQUESTED_TOKEN_USE_OBO: Final = "on_behalf_of"
# The ID-JAG profile of the jwt-bearer grant (draft-ietf-oauth-identity-assertion-authz-grant)
GRANT_PROFILE_ID_JAG: Final = "urn:ietf:params:oauth:grant-profile:id-jag"

# Token type identifiers (RFC 8693 §3)
TOKEN_TYPE_ACCESS_TOKEN: Final = "urn:ietf:params:oauth:token-type:access_token"
TOKEN_TYPE_REFRESH_TOKEN: Final = "urn:ietf:params:oauth:token-type:refresh_token"
TOKEN_TYPE_ID_TOKEN: Final = "urn:ietf:params:oauth:token-type:id_token"
TOKEN_TYPE_JWT: Final = "urn:ietf:params:oauth:token-type:jwt"
TOKEN_TYPE_ID_JAG: Final = "urn:ietf:params:oauth:token-type:id-jag"

# Client assertion type (RFC 7523 §2.2)
CLIENT_ASSERTION_TYPE_JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# Client authentication methods (RFC 8414 / OIDC registration names)
AUTH_CLIENT_SECRET_BASIC: Final = "client_secret_basic"
AUTH_CLIENT_SECRET_POST: Final = "client_secret_post"
AUTH_PRIVATE_KEY_JWT: Final = "private_key_jwt"
AUTH_NONE: Final = "none"  # public clients (RFC 7591 §2), authorization_code and refresh_token only

# JOSE header `typ` values
TYP_ACCESS_TOKEN: Final = "at+jwt"  # RFC 9068 §2.1
TYP_ID_JAG: Final = "oauth-id-jag+jwt"
TYP_DPOP: Final = "dpop+jwt"
TYP_ID_TOKEN: Final = "JWT"  # OIDC Core §2 uses no particular type; "JWT" keeps it apart from at+jwt
ID_TOKEN_ALG: Final = "ES256"

# Signing algorithms Deputy issues with; HMAC and "none" are never accepted anywhere.
ALG_ES256: Final = "ES256"
ALG_RS256: Final = "RS256"
ISSUING_ALGORITHMS: Final = (ALG_ES256, ALG_RS256)
CLIENT_ASSERTION_ALGORITHMS: Final = ("ES256", "ES384", "RS256", "PS256", "EdDSA")
# What a trusted external issuer may sign subject tokens with (an allow-list per issuer picks
# from these): asymmetric only, so a published key can never double as an HMAC secret.
EXTERNAL_ISSUER_ALGORITHMS: Final = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)

# Actor profile (draft-mcguinness-oauth-actor-profile)
SUB_PROFILE_USER: Final = "user"
SUB_PROFILE_AGENT: Final = "ai_agent"

TOKEN_TYPE_BEARER: Final = "Bearer"
TOKEN_TYPE_NA: Final = "N_A"  # RFC 8693 §2.2.1: the issued token is not an access token (an ID-JAG)
