"""A stand-in for Zenodo on 127.0.0.1: the records API (the JSON shapes Zenodo has served) and the files.

Used by the download tests through the ``zenodo_server`` fixture of each test module: the server
thread is started for the test and shut down after it; it binds 127.0.0.1 on a free port only.

Paths served, as on zenodo.org:

* ``/api/records/<id>``: the record's JSON, ``shape`` "legacy" (``files`` a list with ``key`` /
  ``checksum: "md5:..."`` / ``links.self``), "entries" (``files.entries{name: {checksum, size,
  links.content}}``), "entries_list" (the entries as a list) or "new" (a list with ``filename`` /
  bare ``checksum`` / ``filesize``);
* ``/api/records/<id>/files/<name>/content`` and ``/records/<id>/files/<name>?download=1``: the bytes,
  honouring ``Range``; ``cut_at`` closes the connection after that many bytes of the body.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlparse


@dataclass
class Record:
    files: dict[str, bytes]
    shape: str = "legacy"
    md5: dict[str, str] = field(default_factory=dict)  #: announced md5 overrides (a wrong checksum)
    size: dict[str, int] = field(default_factory=dict)  #: announced size overrides


class FakeZenodo(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.records: dict[str, Record] = {}
        self.requests: list[tuple[str, str | None]] = []  #: (path, Range header) of every request
        self.api_status = 200  #: anything else: the API answers that status
        self.api_body: bytes | None = None  #: raw API body (malformed JSON)
        self.cut_at: int | None = None
        self.send_length = True
        self.honor_range = True
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def api(self) -> str:
        return f"{self.base}/api/records/"

    def start(self) -> FakeZenodo:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)

    def add(self, record: str, files: dict[str, bytes], shape: str = "legacy") -> Record:
        self.records[record] = Record(dict(files), shape)
        return self.records[record]

    def file_requests(self) -> list[tuple[str, str | None]]:
        return [r for r in self.requests if "/files/" in r[0]]

    def api_requests(self) -> list[tuple[str, str | None]]:
        return [r for r in self.requests if "/files/" not in r[0]]

    def content_url(self, rid: str, name: str) -> str:
        return f"{self.api}{rid}/files/{quote(name)}/content"

    def record_json(self, rid: str) -> dict:
        rec = self.records[rid]
        rows = []
        for name, data in rec.files.items():
            md5 = rec.md5.get(name, hashlib.md5(data).hexdigest())
            size = rec.size.get(name, len(data))
            rows.append((name, md5, size))
        if rec.shape == "legacy":
            files = [
                {
                    "id": f"f{i}",
                    "key": n,
                    "size": s,
                    "checksum": f"md5:{m}",
                    "links": {"self": self.content_url(rid, n)},
                }
                for i, (n, m, s) in enumerate(rows)
            ]
        elif rec.shape == "entries":
            files = {
                "enabled": True,
                "count": len(rows),
                "entries": {
                    n: {
                        "key": n,
                        "size": s,
                        "checksum": f"md5:{m}",
                        "mimetype": "application/octet-stream",
                        "links": {"self": f"{self.api}{rid}/files/{quote(n)}", "content": self.content_url(rid, n)},
                    }
                    for n, m, s in rows
                },
            }
        elif rec.shape == "entries_list":  # InvenioRDM's /files listing: entries as a list
            files = {
                "enabled": True,
                "entries": [
                    {"key": n, "size": s, "checksum": f"md5:{m}", "links": {"content": self.content_url(rid, n)}}
                    for n, m, s in rows
                ],
            }
        elif rec.shape == "new":
            files = [{"id": f"f{i}", "filename": n, "filesize": s, "checksum": m} for i, (n, m, s) in enumerate(rows)]
        else:
            raise ValueError(rec.shape)
        return {"id": int(rid), "doi": f"10.5281/zenodo.{rid}", "metadata": {"title": "test record"}, "files": files}


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then closed: connecting is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeZenodo

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        srv = self.server
        path = unquote(urlparse(self.path).path)
        srv.requests.append((path, self.headers.get("Range")))
        parts = [p for p in path.split("/") if p]
        # /api/records/<id>/files/<name...>/content  or  /records/<id>/files/<name...>
        if "files" in parts:
            i = parts.index("files")
            name = "/".join(parts[i + 1 : -1] if parts[-1] == "content" else parts[i + 1 :])
            rec = srv.records.get(parts[i - 1])
            if rec is None or name not in rec.files:
                return self._send(404, b'{"status": 404, "message": "not found"}', "application/json")
            return self._file(rec.files[name])
        if parts[:2] == ["api", "records"] and len(parts) == 3:
            if srv.api_status != 200:
                return self._send(srv.api_status, b"<html><body>Internal error</body></html>", "text/html")
            if srv.api_body is not None:
                return self._send(200, srv.api_body, "application/json")
            if parts[2] not in srv.records:
                return self._send(
                    404, b'{"status": 404, "message": "The persistent identifier does not exist."}', "application/json"
                )
            return self._send(200, json.dumps(srv.record_json(parts[2])).encode(), "application/json")
        return self._send(404, b"not found", "text/plain")

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _file(self, data: bytes) -> None:
        srv = self.server
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and srv.honor_range:
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        if srv.send_length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if srv.cut_at is not None:
            body = body[: srv.cut_at]
        self.wfile.write(body)
        self.wfile.flush()
        if srv.cut_at is not None or not srv.send_length:
            self.close_connection = True
