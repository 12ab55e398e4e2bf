"""systemd integration: tell the service manager when the node is ready and when it stops.

``Type=notify`` units (deploy/systemd/ballotchain.service) wait for ``READY=1``
before dependants start and show ``STATUS=`` in ``systemctl status``. The
protocol is one datagram to the socket named by ``$NOTIFY_SOCKET`` (sd_notify(3));
outside systemd the variable is unset and this does nothing.
"""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send ``message`` (e.g. ``"READY=1"``) to systemd; False when not run by systemd."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):  # abstract namespace
        path = "\0" + path[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(path)
            s.sendall(message.encode())
    except OSError:
        return False
    return True
