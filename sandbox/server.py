"""The sandbox's servers: HTTPS for the protocol endpoints, plain loopback HTTP for pages.

Both wrap the portal's own Django WSGI application and mark each request with
"sandbox.urlconf" (see sandbox/middleware.py), so one project and one database serve the
portal and the simulated Microsoft and Atlassian. The origins are put into the environ too,
so views build absolute URLs (nextLink, discovery) for whatever ports are in use.

They speak HTTP/1.1 with persistent connections, as Microsoft's and Atlassian's front doors
do (a client's pooled connection serves its next request without a new TLS handshake), one
thread per connection. That thread keeps its database connection between the requests of its
HTTP connection and closes it when the client goes, or after IDLE_SECONDS without a request:
a simulator that connects to its database twice per request (once for the view, once for the
request log) spends more time on that than on the answer, and hides the client's own cost.
"""

import logging
import signal
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import cast
from wsgiref.simple_server import WSGIServer, make_server

from django.conf import settings
from django.core.servers.basehttp import WSGIRequestHandler
from django.db import DEFAULT_DB_ALIAS, connections

from . import db, requestlog
from .ca import ensure_certificates

log = logging.getLogger(__name__)

URLCONF = "sandbox.protocol_urls"
IDLE_SECONDS = 30  # a kept-alive connection with no request for this long is closed


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def server_activate(self):
        super().server_activate()
        self.live: set[_Handler] = set()
        self.live_lock = threading.Lock()

    def close_live(self, timeout: float = 5.0) -> None:
        """End every open connection (their threads close their database connections)."""
        with self.live_lock:
            handlers = list(self.live)
        for handler in handlers:
            try:
                cast(socket.socket, handler.connection).shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        while self.live and time.monotonic() < deadline:
            time.sleep(0.02)


class _Handler(WSGIRequestHandler):
    """Django's HTTP/1.1 handler (keep-alive while the response has a length), quiet, with the
    sandbox's environ, and the connection's thread owning its database connections."""

    timeout = IDLE_SECONDS

    # Request lines carry OAuth codes and tokens in query strings: never print them.
    def log_message(self, format, *args):  # noqa: A002
        pass

    def get_environ(self):
        env = super().get_environ()
        env.update(self.server.sandbox_environ)
        return env

    def setup(self):
        super().setup()
        # Headers and body go out as separate TLS records: without TCP_NODELAY the body can wait
        # for the client's delayed ACK (about 40 ms on Linux) behind Nagle's algorithm.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.live_lock:
            self.server.live.add(self)

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
            # Idle past IDLE_SECONDS, or the client (or close_live) ended the connection.
            self.close_connection = True

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        finally:
            with self.server.live_lock:
                self.server.live.discard(self)
            connections.close_all()


def _keep_database_connections() -> None:
    """This thread's database connections outlive a request (the thread is the HTTP
    connection's). The settings are read afresh each time, so a test that points the database
    elsewhere in place (tests/processes.py) is followed; a broken connection is replaced."""
    for alias in {DEFAULT_DB_ALIAS, db.alias()}:
        connection = connections[alias]
        wanted = {**connections.settings[alias], "CONN_MAX_AGE": None, "CONN_HEALTH_CHECKS": True}
        if connection.settings_dict != wanted:
            connection.close()
            connection.settings_dict = wanted


class SandboxApp:
    """WSGI wrapper: routes to the sandbox URLconf and records each request."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        started = time.monotonic()
        status_holder = {}

        def _start(status, headers, exc_info=None):
            status_holder["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        _keep_database_connections()
        result = self.app(environ, _start)
        # Buffer the body so the request is over before logging, and send it as one piece,
        # which gives the response its Content-Length (so the connection can stay open).
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        requestlog.record(environ, status_holder.get("status", 500), time.monotonic() - started)
        return [body]


@dataclass
class ServerHandle:
    origin: str
    browser_origin: str
    host: str
    port: int
    browser_port: int
    ca_bundle: str
    _servers: tuple
    _threads: tuple

    def stop(self):
        for server in self._servers:
            server.shutdown()
            server.close_live()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)


def _build(host, port, browser_port, app):
    certs = ensure_certificates(settings.SANDBOX_DIR, hosts=(host,))
    tls = make_server(host, port, app, server_class=_ThreadingWSGIServer, handler_class=_Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certs.cert_pem), str(certs.key_pem))
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    plain = make_server(host, browser_port, app, server_class=_ThreadingWSGIServer, handler_class=_Handler)
    origin = f"https://{host}:{tls.server_port}"
    browser_origin = f"http://{host}:{plain.server_port}"
    shared = {
        "sandbox.urlconf": URLCONF,
        "sandbox.origin": origin,
        "sandbox.browser_origin": browser_origin,
    }
    tls.sandbox_environ = {**shared, "wsgi.url_scheme": "https", "HTTPS": "on", "sandbox.port": "tls"}
    plain.sandbox_environ = {**shared, "sandbox.port": "browser"}
    return tls, plain, origin, browser_origin, certs


def _wsgi_app():
    from django.core.wsgi import get_wsgi_application

    return SandboxApp(get_wsgi_application())


def start_in_thread(host=None, port=None, browser_port=None) -> ServerHandle:
    """Serve the sandbox on background threads. Port 0 picks a free port (tests)."""
    host = host or settings.SANDBOX_HOST
    port = settings.SANDBOX_PORT if port is None else port
    if browser_port is None:
        # Beside the TLS port (8443 -> 8442, as in sandbox.defaults); ephemeral with it.
        browser_port = port - 1 if port else 0
    tls, plain, origin, browser_origin, certs = _build(host, port, browser_port, _wsgi_app())
    threads = []
    for server in (tls, plain):
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        thread.start()
        threads.append(thread)
    return ServerHandle(
        origin=origin,
        browser_origin=browser_origin,
        host=host,
        port=tls.server_port,
        browser_port=plain.server_port,
        ca_bundle=str(certs.ca_pem),
        _servers=(tls, plain),
        _threads=tuple(threads),
    )


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def serve_forever(host=None, port=None, browser_port=None, stdout=None):
    """Blocking: `manage.py sandbox serve` (the demo)."""
    handle = start_in_thread(host, port, browser_port)
    # `docker stop`, `kill`: shut the servers down the same way as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    if stdout:
        stdout.write(
            f"Sandbox serving {handle.origin} (APIs, TLS; trust {handle.ca_bundle}) "
            f"and {handle.browser_origin} (sign-in pages). Ctrl-C stops it.\n"
        )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C or SIGTERM while the servers drain must not interrupt the drain.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        handle.stop()
