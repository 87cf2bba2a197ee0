"""``ganforge serve RUN_OR_FILE [...]``: the web studio (``ganforge/serve``)."""

from __future__ import annotations

import argparse
from typing import Any

from ganforge.cli.common import add_command, console


def cmd_serve(args: argparse.Namespace) -> int:
    """a web studio for trained models: sample, interpolate, translate, inpaint, table rows

    Serves one page per loaded model and the JSON API it uses (POST /api/sample, /api/interpolate,
    /api/classes, /api/translate, /api/rows; GET /api/models) at http://HOST:PORT/. It binds
    127.0.0.1 unless --host says otherwise, reads only the models named here, and bounds every
    request (--max-images, --max-upload-mb, --timeout).
    """
    from ganforge.serve import LOCALHOST, serve
    from ganforge.serve.core import Limits

    if args.host != LOCALHOST:
        console.print(f"[yellow]warning[/yellow]: serving on {args.host}: other machines can reach it")
    limits = Limits(max_images=args.max_images, max_upload_bytes=int(args.max_upload_mb * 2**20),
                    timeout_s=args.timeout)  # fmt: skip
    console.print(f"studio at http://{args.host}:{args.port}/ (Ctrl-C stops it)")
    serve(args.models, host=args.host, port=args.port, device=args.device, limits=limits)
    return 0


def add_serve_parser(sub: Any) -> None:
    p = add_command(sub, "serve", cmd_serve)
    p.add_argument("models", nargs="+", metavar="RUN_OR_FILE", help="run directories or .safetensors files")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: here only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N, mps or auto")
    p.add_argument("--max-images", type=int, default=64, help="images per request (default 64)")
    p.add_argument("--max-upload-mb", type=float, default=8.0, help="upload size limit in MiB (default 8)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds a request may take (default 60)")
