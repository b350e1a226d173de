"""tests.support: helpers the tiers share (databases, servers, files, fixtures)."""
