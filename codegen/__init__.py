"""Turns openapi.yaml into src/taskapi/generated/ (run it as `python -m codegen`, or `make generate`)."""
