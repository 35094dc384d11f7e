# DO NOT EDIT. Generated from openapi.yaml by codegen/ (`make generate`); `make check` fails when stale.
"""Code generated from openapi.yaml: models, operations and the spec itself."""
