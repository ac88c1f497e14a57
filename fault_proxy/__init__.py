"""The fault proxy: a reverse proxy in front of any HTTP service that applies paystorm's
request-level faults (the same kinds, engine, chaos API and events as the mock gateway)."""
