"""A null-modem cable between two pseudo-terminals, for Modbus RTU tests without hardware.

Two pty pairs; a thread copies bytes between their master ends, so whatever is written to
one slave (``/dev/pts/N``) comes out of the other, like ``socat pty,raw pty,raw``.
"""

from __future__ import annotations

import os
import select
import threading
import tty


class PtyLink:
    def __init__(self) -> None:
        self._m1, self._s1 = os.openpty()
        self._m2, self._s2 = os.openpty()
        for fd in (self._s1, self._s2):
            tty.setraw(fd)  # no echo, no line discipline: Modbus RTU frames are binary
        self.port_a, self.port_b = os.ttyname(self._s1), os.ttyname(self._s2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="pty-link", daemon=True)

    def start(self) -> PtyLink:
        self._thread.start()
        return self

    def _pump(self) -> None:
        peer = {self._m1: self._m2, self._m2: self._m1}
        while not self._stop.is_set():
            readable, _, _ = select.select(list(peer), [], [], 0.1)
            for fd in readable:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                if data:
                    os.write(peer[fd], data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for fd in (self._m1, self._s1, self._m2, self._s2):
            os.close(fd)
