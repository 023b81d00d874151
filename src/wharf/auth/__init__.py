"""Identity and access: principals, secrets, registry tokens, scopes and policy decisions."""
