"""The incident-desk demo: the story of seed 000 on one machine (``deputy demo``).

``deputy.demo.desk`` is a small API speaking the part of ServiceNow's Table API the seed's agent
uses, with per-record ACLs; ``deputy.demo.agent`` is an MCP server whose tools call the desk as
the signed-in user through the agent SDK; ``deputy.demo.story`` starts everything and plays it.
"""
