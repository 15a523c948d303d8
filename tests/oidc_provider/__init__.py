"""A small, real OpenID Connect provider (django-oauth-toolkit) for the single sign-on
journey: its own process, database, users and signing key, as an identity provider is."""
