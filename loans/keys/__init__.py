"""The co-op's API keys: issued, checked and revoked by the county office."""
