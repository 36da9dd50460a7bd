"""The API's routes, one router per concern (FastAPI's "bigger applications" layout).

Each module defines a module-level `router`; `app.create_app` includes them all. Routes read
the app's own `Settings` through `deps.SettingsDep`, never at import time, so two apps with
different settings can live side by side in one process (as the tests run them).
"""

from fastapi import APIRouter

from dtmon_api.routers import batches, probes, status, stream, summary

ROUTERS: tuple[APIRouter, ...] = (
    batches.router,
    summary.router,
    stream.router,
    status.router,
    probes.router,
)
"""Every router of the service, in the order the OpenAPI page lists them."""
