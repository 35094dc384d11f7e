"""taskapi: a contract-first Task Management API. `openapi.yaml` is the single source of truth."""
