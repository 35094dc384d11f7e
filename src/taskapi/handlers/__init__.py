"""Handlers: one module per tag of the spec, one method per operationId (`createTask` -> `create_task`)."""
