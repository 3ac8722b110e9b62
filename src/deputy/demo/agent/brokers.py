"""The agents' credential providers: every downstream token is an RFC 8693 exchange at Deputy.

incident-agent has two: the desk (``resource`` = the desk) and the triage agent (``audience`` =
``triage-agent``); triage-agent has one, the desk. Each authenticates with the agent's own client
secret; the subject token is the user's (or, for triage-agent, the token incident-agent obtained
for it), so Deputy issues ``sub`` = the user with ``act`` naming the agent — nested when the
subject token already had one.
"""

from __future__ import annotations

from deputy.agent import ClientSecret, CredentialProvider, TokenBroker, TokenExchange
from deputy.demo.agent.settings import AgentSettings

__all__ = ["DESK", "READ_SCOPES", "TRIAGE", "TRIAGE_SCOPES", "WRITE_SCOPES", "incident_broker", "triage_broker"]

DESK = "incident-desk"
TRIAGE = "triage-agent"
# Deputy intersects with what the user and the agent may have: Jane (IT) gets no hr:read.
READ_SCOPES = ("incidents:read", "hr:read")
WRITE_SCOPES = ("incidents:write",)
TRIAGE_SCOPES = ("incidents:read",)


def incident_broker(settings: AgentSettings) -> TokenBroker:
    client = ClientSecret(settings.client_id, settings.client_secret.reveal())
    return TokenBroker([
        CredentialProvider(name=DESK, flow=TokenExchange(), client=client, issuer=settings.issuer,
                           resource=settings.desk_resource, scopes=READ_SCOPES),
        CredentialProvider(name=TRIAGE, flow=TokenExchange(), client=client, issuer=settings.issuer,
                           audience=settings.triage_client_id, scopes=TRIAGE_SCOPES),
    ])


def triage_broker(settings: AgentSettings) -> TokenBroker:
    client = ClientSecret(settings.triage_client_id, settings.triage_secret.reveal())
    return TokenBroker([
        CredentialProvider(name=DESK, flow=TokenExchange(), client=client, issuer=settings.issuer,
                           resource=settings.desk_resource, scopes=TRIAGE_SCOPES),
    ])
