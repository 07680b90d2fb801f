"""Shared test helpers: servers and clients (``server``), browsers in network namespaces,
Redis access, a local server speaking the OpenAI wire format, synthetic traces."""
