"""api.auth: roles and permissions, API keys, passwords, bearer tokens, the request's principal."""
