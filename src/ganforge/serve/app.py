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
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import HTMLResponse, JSONResponse

from ganforge.errors import GanforgeError
from ganforge.serve.core import ApiError, Limits, Studio, describe
from ganforge.serve.routes import add_generation_routes, add_translation_routes

log = logging.getLogger("ganforge.serve")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
# The page's own inline script and styles, images from data: and blob: URIs, requests to this server only.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:;"
    " connect-src 'self'"
)


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is answered 413 before the app reads it:
    by its Content-Length, or, for a chunked body, by reading it (at most ``limit`` + 1 bytes) first."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _too_large(self.limit)(scope, receive, send)
        if declared is not None:  # a declared length within the limit: the server holds it to it
            return await self.app(scope, receive, send)
        body, more = b"", True  # chunked: read (at most limit + 1 bytes) before the app sees any
        while more and len(body) <= self.limit:
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client went away
            body, more = body + message.get("body", b""), message.get("more_body", False)
        if len(body) > self.limit:
            return await _too_large(self.limit)(scope, receive, send)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"error": f"request bodies are limited to {limit} bytes"}, status_code=413)


def create_app(
    models: dict[str, Any], limits: Limits | None = None, hosts: tuple[str, ...] = LOCAL_HOSTS
) -> FastAPI:
    """The studio over ``models`` (name -> a task handle from ``open_run`` / ``from_pretrained``).

    Only requests naming one of ``hosts`` in their Host header are served: a page elsewhere that
    rebinds its own domain name to 127.0.0.1 (DNS rebinding) is refused."""
    studio = Studio(models, limits or Limits())
    app = FastAPI(title="ganforge studio", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.studio = studio
    _add_error_handlers(app)
    _add_page_routes(app, studio)
    add_generation_routes(app, studio)
    add_translation_routes(app, studio)
    # an image and a mask, each up to the upload limit, plus the form's own bytes
    app.add_middleware(BodyLimit, limit=2 * studio.limits.max_upload_bytes + 64 * 1024)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))
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
