"""``download_weights``: explicit, checksummed, atomic. Served by a local http.server, no real network."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from ganforge.errors import EvalError
from ganforge.metrics.features.inception import download_weights

PAYLOAD = bytes(range(256)) * 5000  # 1.28 MB: several read chunks


class _Handler(SimpleHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Handler.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "served"
    root.mkdir()
    (root / "weights.pth").write_bytes(PAYLOAD)
    _Handler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_good_checksum_writes_the_file_once(server: str, tmp_path: Path):
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    dest = tmp_path / "cache" / "fid.pth"
    assert download_weights(f"{server}/weights.pth", dest, sha) == dest
    assert dest.read_bytes() == PAYLOAD
    assert download_weights(f"{server}/weights.pth", dest, sha.upper()) == dest  # verified, not fetched
    assert _Handler.requests == ["/weights.pth"]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["fid.pth"]


def test_bad_checksum_raises_and_leaves_no_file(server: str, tmp_path: Path):
    dest = tmp_path / "fid.pth"
    with pytest.raises(EvalError, match=r"expected 0{16}\.\.\.; it was discarded"):
        download_weights(f"{server}/weights.pth", dest, "0" * 64)
    assert list(tmp_path.iterdir()) == [tmp_path / "served"]  # neither dest nor a temporary file


def test_unreachable_file_and_malformed_checksum(server: str, tmp_path: Path):
    with pytest.raises(EvalError, match=r"could not download .*/missing\.pth"):
        download_weights(f"{server}/missing.pth", tmp_path / "x.pth", "0" * 64)
    assert not (tmp_path / "x.pth").exists()
    with pytest.raises(EvalError, match="64 hexadecimal digits"):
        download_weights(f"{server}/weights.pth", tmp_path / "x.pth", "6726825d")
