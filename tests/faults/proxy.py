"""A TCP proxy on loopback between the coordinator and a node that can stall or cut streams."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field


@dataclass
class Proxy:
    """Forwards 127.0.0.1:port to `target`. In mode "stall" or "cut", once `trigger` bytes have
    come back from the target, it stops forwarding in both directions while holding the
    connections open ("stall"), or resets every connection ("cut")."""

    target: tuple[str, int]
    mode: str = "pass"
    trigger: int = 0
    returned: int = 0
    tripped: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _sockets: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self.target)
            except OSError:
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink, back in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(
                    target=self._pump, args=(source, sink, back), daemon=True, name="proxy-pump"
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, back: bool) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = source.recv(65536)
                if not data:
                    return
                if back and self.mode != "pass":
                    with self._lock:
                        self.returned += len(data)
                        if self.returned >= self.trigger:
                            self.tripped.set()
                if self.tripped.is_set():
                    if self.mode == "cut":
                        self.cut()
                    self._stop.wait()  # stalled: hold the connection and say nothing
                    return
                sink.sendall(data)

    def cut(self) -> None:
        """Reset every proxied connection in the middle of whatever it carries."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut()
