"""The REST API: per-service tokens with scopes, ingest push, reads and the decisions feed.

The top room: it may import ``cases``, ``detection`` and ``common``; nothing imports it but
the project's settings and root URLs. docs/api.md is the integrator's guide.
"""
