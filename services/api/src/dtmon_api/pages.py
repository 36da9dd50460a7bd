"""The dashboard, the offline API docs page and the static assets they load.

Clusters are often offline and the CSP allows scripts only from this service, so every
asset is served from here: Plotly.js from the `plotly` Python package (its CSS extracted
into /vendor/plotly.css, see plotly_css.py), Swagger UI from the `fastapi-offline` package.
FastAPI's stock /docs page is disabled because it loads Swagger UI from a CDN and starts it
with an inline script, both of which the CSP blocks.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from dtmon_api.plotly_css import bundled_style_ids, plotly_css

STATIC_DIR = Path(str(resources.files("dtmon_api") / "static"))
VENDOR_CACHE = "public, max-age=86400"


class AssetMissing(RuntimeError):
    """A vendored asset is not where its package should have installed it."""


def plotly_js_path() -> Path:
    """plotly.min.js as shipped inside the installed `plotly` package."""
    path = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
    if not path.is_file():
        raise AssetMissing(f"plotly.min.js not found at {path}; is the plotly package installed?")
    return path


def swagger_dir() -> Path:
    """Swagger UI's bundle and CSS as shipped inside the installed `fastapi_offline` package."""
    path = Path(str(resources.files("fastapi_offline") / "static"))
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        if not (path / name).is_file():
            raise AssetMissing(f"{name} not found in {path}; is fastapi-offline installed?")
    return path


class CachedStaticFiles(StaticFiles):
    """StaticFiles with a fixed Cache-Control (vendored files change only on upgrade)."""

    def __init__(self, *args: object, cache_control: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.cache_control = cache_control

    def file_response(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers["Cache-Control"] = self.cache_control
        return response


def docs_html(title: str) -> str:
    """Swagger UI page with no inline script: `static/docs.js` reads the spec URL from a
    data attribute. Relative URLs keep it working behind an ingress path prefix."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} - API docs</title>
<link rel="stylesheet" href="vendor/swagger/swagger-ui.css">
<link rel="icon" href="static/favicon.svg" type="image/svg+xml">
</head>
<body>
<div id="swagger-ui" data-openapi-url="openapi.json"></div>
<script src="vendor/swagger/swagger-ui-bundle.js"></script>
<script src="static/docs.js"></script>
</body>
</html>
"""


def mount_pages(app: FastAPI) -> None:
    """Add `/`, `/docs`, `/static/*` and `/vendor/*` to `app` (checked at start-up)."""
    plotly_path = plotly_js_path()
    plotly_stylesheet = plotly_css(plotly_path)
    guards = "".join(
        f'<meta id="{i}" name="dtmon-style-guard">' for i in bundled_style_ids(plotly_path)
    )
    index_html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    index_html = index_html.replace("<!--PLOTLY_STYLE_GUARDS-->", guards)
    swagger_path = swagger_dir()
    router = APIRouter(include_in_schema=False)
    page = docs_html(app.title)

    @router.get("/", response_class=HTMLResponse)
    def dashboard() -> HTMLResponse:
        return HTMLResponse(index_html, headers={"Cache-Control": "no-cache"})

    @router.get("/docs", response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @router.get("/vendor/plotly.min.js", response_class=FileResponse)
    def plotly_js() -> FileResponse:
        return FileResponse(
            plotly_path, media_type="text/javascript", headers={"Cache-Control": VENDOR_CACHE}
        )

    @router.get("/vendor/plotly.css")
    def plotly_style() -> Response:
        return Response(
            plotly_stylesheet, media_type="text/css", headers={"Cache-Control": VENDOR_CACHE}
        )

    app.include_router(router)
    app.mount(
        "/vendor/swagger",
        CachedStaticFiles(directory=swagger_path, cache_control=VENDOR_CACHE),
        name="swagger",
    )
    app.mount(
        "/static",
        CachedStaticFiles(directory=STATIC_DIR, cache_control="no-cache"),
        name="static",
    )
