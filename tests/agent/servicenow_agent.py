"""Seed 000's ServiceNow agent rewritten with the agent SDK: one tool per operation, each a
plain function that gets a token for the current user (docs/agent-sdk.md, the quick start).

``tools(broker, instance_url)`` builds them around a broker so tests can run several; the guide
shows the same code at module level with ``set_default_broker``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from deputy.agent import TokenBroker, requires_access_token

FIELDS = "number,short_description,priority,state,assigned_to"


def tools(broker: TokenBroker, instance_url: str) -> list[Callable[..., str]]:
    def snow_request(method: str, endpoint: str, access_token: str, *, params: dict[str, Any] | None = None,
                     json_body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.request(method, f"{instance_url}/api/now/{endpoint}", params=params, json=json_body,
                                 headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
                                 timeout=30)
        if response.status_code in (401, 403):
            return {"error": f"ServiceNow refused: HTTP {response.status_code}"}
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    @requires_access_token(provider="servicenow", scopes=["incidents:read"], broker=broker)
    def query_incidents(query: str = "", limit: int = 10, fields: str = FIELDS, *, access_token: str = "") -> str:
        """Search for incidents in ServiceNow."""
        return json.dumps(snow_request("GET", "table/incident", access_token, params={
            "sysparm_query": query, "sysparm_limit": limit, "sysparm_fields": fields}))

    @requires_access_token(provider="servicenow", scopes=["incidents:read"], broker=broker)
    def get_incident(number: str, *, access_token: str = "") -> str:
        """Get details of a specific incident by number."""
        return json.dumps(snow_request("GET", "table/incident", access_token, params={
            "sysparm_query": f"number={number}", "sysparm_limit": 1}))

    @requires_access_token(provider="servicenow", scopes=["incidents:write"], broker=broker)
    def update_incident(sys_id: str, updates: dict[str, Any], *, access_token: str = "") -> str:
        """Update an existing incident."""
        return json.dumps(snow_request("PATCH", f"table/incident/{sys_id}", access_token, json_body=updates))

    return [query_incidents, get_incident, update_incident]
