"""A real HTTP server on loopback, in a thread, that receives webhook deliveries as a customer's server would:
it answers each POST by the next of its scripted behaviours (then 200), and keeps what it was sent."""

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    url: str
    # Each POST takes the next: an HTTP status, ("sleep", seconds) then 200, or ("redirect", path); then 200.
    script: list = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received


@contextmanager
def running_receiver(script=()):
    receiver = Receiver(url="", script=list(script))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.received.append(Received(self.path, dict(self.headers), body))
            step = receiver.script.pop(0) if receiver.script else 200
            if isinstance(step, tuple) and step[0] == "sleep":
                time.sleep(step[1])
                step = 200
            if isinstance(step, tuple) and step[0] == "redirect":
                self.send_response(302)
                self.send_header("Location", step[1])
            else:
                self.send_response(step)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/catdog"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
