"""A scriptable HTTP server on 127.0.0.1 for fetch tests (no internet needed)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable


class Route:
    """What the server answers for one path: a list of behaviours, one per request."""

    def __init__(self, body: bytes, plan: list[str] | None = None) -> None:
        self.body = body
        self.plan = list(plan or ["ok"])
        self.requests = 0
        self.posted: list[bytes] = []

    def next(self) -> str:
        self.requests += 1
        return self.plan.pop(0) if len(self.plan) > 1 else self.plan[0]


class Server:
    """Serve ``routes`` on an ephemeral port of 127.0.0.1."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        routes = self.routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                route = routes.get(self.path)
                if route is not None:
                    route.posted.append(body)
                self.do_GET()

            def do_GET(self):  # noqa: N802 - http.server API
                route = routes.get(self.path)
                if route is None:
                    self.send_error(404, "not found")
                    return
                action = route.next()
                body = route.body
                if action.startswith("status:"):
                    self.send_error(int(action.split(":")[1]))
                    return
                start = 0
                range_header = self.headers.get("Range")
                if range_header and action == "ok":
                    start = int(range_header.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if action == "reset":  # send half, then drop the connection
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                if action == "stall":
                    self.wfile.write(body[:10])
                    self.wfile.flush()
                    threading.Event().wait(3)
                    return
                self.wfile.write(body[start:])

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def add(self, path: str, body: bytes, plan: list[str] | None = None) -> Route:
        self.routes[path] = Route(body, plan)
        return self.routes[path]

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


Factory = Callable[[], Server]
