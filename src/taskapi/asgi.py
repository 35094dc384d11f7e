"""ASGI entry point for servers: `uvicorn --factory taskapi.asgi:app` (settings from the environment)."""

from __future__ import annotations

from fastapi import FastAPI

from taskapi.app import create_app


def app() -> FastAPI:
    """Build the app from `TASKAPI_*` settings; uvicorn calls this once per worker."""
    return create_app()
