"""Keycloak as the anchor of the performance targets (`make bench-keycloak`, issue 15)."""
