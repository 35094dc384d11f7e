"""The `meta` operations."""

from __future__ import annotations

from taskapi.generated import models, server


class MetaHandlers:
    """Implements `server.MetaOperations`."""

    async def get_health(self) -> server.GetHealthResponse:
        """Answer while the process serves requests."""
        return server.GetHealth200Response(body=models.Health(status="ok"))
