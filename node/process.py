"""The node process: pid file, logging, signals, systemd notifications, exit statuses.

``ballotchain node start`` (cli/node_cmd.py) loads the home and calls ``run_node``,
which claims the home's pid file, builds and starts the ``Node``, tells systemd it is
ready (``node.service``), runs until SIGTERM/SIGINT or until the node halts itself,
then stops it cleanly. A node that halted raises its error after the clean stop;
``exit_status`` maps it to the process's exit status, so a supervisor restarts it:
74 (EX_IOERR) for the database, 70 (EX_SOFTWARE) for a bug, 1 for anything else
(config, pid file, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from ballot_tx.errors import BallotchainError, ErrorCode
from ballot_tx.keys import KeyPair
from genesis.document import Genesis, from_json
from node import heap, logs, service
from node.config import NodeConfig
from node.errors import NodeError
from node.pidfile import claim_pid_file
from node.runtime import Node

log = logs.get("node")

EX_SOFTWARE = 70
EX_IOERR = 74


def setup_logging(cfg: NodeConfig) -> None:
    """Log as the home's config says (level, JSON or text, file or stderr)."""
    logs.setup(cfg.log_level, cfg.log_json, cfg.log_file)


def load_genesis(path: Path) -> Genesis:
    try:
        text = path.read_text()
    except OSError as e:
        raise NodeError(ErrorCode.NODE_HOME_INVALID, f"cannot read genesis {path}: {e.strerror}") from None
    return from_json(text)


def exit_status(err: BallotchainError) -> int:
    """The exit status of a node stopped by ``err``."""
    if str(err.code).startswith("STORE_"):
        return EX_IOERR
    if err.code == ErrorCode.NODE_INTERNAL:
        return EX_SOFTWARE
    return 1


async def run_node(cfg: NodeConfig, keys: KeyPair, genesis: Genesis) -> None:
    """Run until SIGTERM/SIGINT, then stop cleanly (the store is closed, the pid file removed)."""
    claim_pid_file(cfg.pid_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    node: Node | None = None
    try:
        node = Node(cfg, keys, genesis)
        async with node:
            heap.freeze_long_lived()  # (node/heap.py: what start-up made lives until the stop)
            service.notify(f"READY=1\nSTATUS=serving at height {node.ledger.height}")  # node/service.py
            waits = [asyncio.ensure_future(stop.wait()),
                     asyncio.ensure_future(node.supervisor.halted.wait())]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
            if node.supervisor.fatal is None:
                log.info("stopping on signal")
            service.notify("STOPPING=1")
    finally:
        with contextlib.suppress(OSError):
            if cfg.pid_file.read_text().strip() == str(os.getpid()):
                cfg.pid_file.unlink()
    if node is not None and node.supervisor.fatal is not None:
        raise node.supervisor.fatal
