"""Accounts, Argon2id passwords, bearer tokens, TOTP and login throttling."""
