"""`make bench`: taskapi against the tutorial app and the raw-ASGI limit (see bench/README.md)."""
