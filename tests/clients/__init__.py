"""client tests: the generated SDKs (and the docs pages) used against a live server."""
