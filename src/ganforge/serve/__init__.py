"""``ganforge serve``: a web studio over trained models (``app.py``), on localhost by default.

``load_models`` opens each run directory or one-file model as its task's handle, named after the
file or folder; ``create_app`` builds the FastAPI app (tests drive it in-process or in a browser);
``serve`` runs it with uvicorn. FastAPI and uvicorn come with the ``serve`` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.utils.optional import require

LOCALHOST = "127.0.0.1"


def _require_serve_extra() -> None:
    for module in ("fastapi", "uvicorn"):
        require(module, "serve", "the studio")


def load_models(sources: list[str | Path], device: str = "cpu") -> dict[str, Any]:
    """Each run directory or one-file model in ``sources`` as its handle, by a unique name (the
    file's stem or the folder's name; ``name-2``, ... when two share one)."""
    from ganforge.tasks import open_run

    models: dict[str, Any] = {}
    for source in sources:
        path = Path(source)
        name = path.stem if path.is_file() else path.resolve().name
        unique, count = name, 1
        while unique in models:
            count += 1
            unique = f"{name}-{count}"
        models[unique] = open_run(path, device=device)
    return models


def create_app(models: dict[str, Any], limits: Any = None, host: str = LOCALHOST) -> Any:
    """The studio's app; requests must name ``host`` (or localhost) unless it binds every address."""
    _require_serve_extra()
    from ganforge.serve.app import LOCAL_HOSTS
    from ganforge.serve.app import create_app as build

    hosts = ("*",) if host in ("0.0.0.0", "::") else (*LOCAL_HOSTS, host)
    return build(models, limits, hosts)


def serve(
    sources: list[str | Path],
    host: str = LOCALHOST,
    port: int = 8000,
    device: str = "cpu",
    limits: Any = None,
) -> None:
    """Load ``sources`` and serve the studio at ``http://host:port/`` until interrupted."""
    _require_serve_extra()
    import uvicorn

    app = create_app(load_models(sources, device), limits, host)
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_keep_alive=5)


__all__ = ["LOCALHOST", "create_app", "load_models", "serve"]
