"""The studio's web app: one page and the JSON API it calls, over the models it was given.

FastAPI, because its request models give every endpoint typed, validated input with 4xx answers
for free, it runs on any ASGI server (uvicorn here), and it serves one static page without a
front-end build. Gradio would draw widgets for us but pulls in a large front end and decides the
API's shape; the JSON API here is the contract scripts use, and the page is just its first client.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse

from ganforge.errors import GanforgeError
from ganforge.serve.core import ApiError, Limits, Studio, describe
from ganforge.serve.routes import add_generation_routes, add_translation_routes

log = logging.getLogger("ganforge.serve")
# The page's own inline script and styles, images from data: and blob: URIs, requests to this server only.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:;"
    " connect-src 'self'"
)


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is cut off with 413 before it is read
    in full (Content-Length checked first; a chunked body counted as it arrives)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _too_large(self.limit)(scope, receive, send)
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise ApiError(413, f"request bodies are limited to {self.limit} bytes")
            return message

        return await self.app(scope, counted, send)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"error": f"request bodies are limited to {limit} bytes"}, status_code=413)


def create_app(models: dict[str, Any], limits: Limits | None = None) -> FastAPI:
    """The studio over ``models`` (name -> a task handle from ``open_run`` / ``from_pretrained``)."""
    studio = Studio(models, limits or Limits())
    app = FastAPI(title="ganforge studio", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.studio = studio
    _add_error_handlers(app)
    _add_page_routes(app, studio)
    add_generation_routes(app, studio)
    add_translation_routes(app, studio)
    app.add_middleware(BodyLimit, limit=studio.limits.max_upload_bytes + 64 * 1024)  # + form overhead
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=err.status)

    @app.exception_handler(GanforgeError)
    async def user_error(request: Request, err: GanforgeError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
        message = f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
        return JSONResponse({"error": message}, status_code=422)

    @app.exception_handler(Exception)
    async def bug(request: Request, err: Exception) -> JSONResponse:
        log.exception("studio request failed")  # the traceback stays in the server's log
        return JSONResponse({"error": "internal error (see the server log)"}, status_code=500)


def _add_page_routes(app: FastAPI, studio: Studio) -> None:
    page = resources.files("ganforge.serve").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}
        return HTMLResponse(page, headers=headers)

    @app.get("/api/models")
    async def list_models() -> dict[str, Any]:
        limits = studio.limits
        return {"models": [describe(name, h) for name, h in studio.models.items()], "limits": asdict(limits)}
