"""API tokens with read / write / admin scopes, stored only as hashes."""
