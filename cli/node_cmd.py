"""``ballotchain node start --home DIR``: run one validator or observer in the foreground."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ballot_tx.errors import BallotchainError, ErrorCode
from cli.common import Group, UserError, fail
from cli.keyfile import load as load_key

if TYPE_CHECKING:
    from genesis.document import Genesis
    from node.backup import Summary
    from node.config import NodeConfig


@click.group(cls=Group)
def node() -> None:
    """Run a Ballotchain node."""


@node.command("start")
@click.option(
    "--home",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="The node's home: config.toml, node.key, genesis.json and the data directory.",
)
def node_start(home: Path) -> None:
    """Start the node in HOME and run until SIGTERM or SIGINT (then stop cleanly).

    The key file's password, if it has one, is read from BALLOTCHAIN_KEY_PASSWORD
    or asked for on the terminal.
    """
    from genesis.document import genesis_hash
    from node.config import check_genesis_hash, load_config
    from node.process import (
        EX_IOERR,
        EX_SOFTWARE,
        exit_status,
        load_genesis,
        run_node,
        setup_logging,
    )

    cfg = load_config(home)
    setup_logging(cfg)
    genesis = load_genesis(cfg.genesis_file)
    check_genesis_hash(cfg, genesis_hash(genesis))
    keys = load_key(cfg.key_file, prompt=sys.stdin.isatty())
    try:
        asyncio.run(run_node(cfg, keys, genesis))
    except BallotchainError as e:
        # non-zero so a supervisor restarts it (node.process.exit_status)
        status = exit_status(e)
        if status == EX_IOERR:
            raise _DiskFailure(e.code, e.message) from None
        if status == EX_SOFTWARE:
            raise _NodeFailure(e.code, e.message) from None
        raise


def _home_genesis(home: Path) -> tuple[NodeConfig, Genesis]:
    from node.config import load_config
    from node.process import load_genesis

    cfg = load_config(home)
    return cfg, load_genesis(cfg.genesis_file)


def _print_summary(verb: str, path: Path, s: Summary) -> None:
    h = s.header
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(h.created_ms / 1000))
    click.echo(f"{verb} {path}: chain {h.chain} ({h.chain_id.hex()[:16]}), height {h.height}, "
               f"{s.records} records, {s.size} bytes, taken {created}")
    click.echo(f"sha256 {s.sha256}")


@node.command("backup")
@click.option("--home", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="The node's home (running or stopped).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Backup file to write.")
def node_backup(home: Path, out: Path) -> None:
    """Write a consistent snapshot of the node's database to OUT, without stopping it.

    A running node is asked over loopback (GET /v1/admin/backup, served to its own
    host only); a stopped node's database is read directly. Keys are never in a
    backup: back node.key up separately. Prints the file's SHA-256.
    """
    import ssl
    import urllib.error
    import urllib.request

    from ballot_tx.errors import ErrorCode, StoreError
    from node.backup import BackupError, inspect, write_backup_offline
    from node.backup_routes import ROUTE

    cfg, genesis = _home_genesis(home)
    if out.exists():
        raise BackupError(ErrorCode.IO_ERROR, f"{out} already exists; refusing to overwrite it")
    try:
        summary = write_backup_offline(cfg.data_dir, genesis, out)
        _print_summary("backup (node stopped)", out, summary)
        return
    except StoreError as e:
        if e.code != ErrorCode.STORE_LOCKED:
            raise
    host = "127.0.0.1" if cfg.listen_host in ("0.0.0.0", "::", "") else cfg.listen_host
    url = f"{'https' if cfg.tls else 'http'}://{host}:{cfg.listen_port}{ROUTE}"
    ctx = None
    if cfg.tls:  # our own node over loopback; the file's hashes guard its integrity
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    tmp = out.with_name(out.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60, context=ctx) as r, open(tmp, "xb") as f:  # noqa: S310
            while chunk := r.read(1 << 20):
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        summary = inspect(tmp)
        os.replace(tmp, out)
    except urllib.error.HTTPError as e:
        tmp.unlink(missing_ok=True)
        fail(ErrorCode.CLI_NODE_BAD_RESPONSE, f"the node refused the backup: {e.code} {e.read()[:200]!r}")
    except (urllib.error.URLError, OSError) as e:
        tmp.unlink(missing_ok=True)
        fail(ErrorCode.CLI_NODE_UNREACHABLE, f"the database is locked but the node at {url} "
             f"does not answer: {e}")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _print_summary("backup (node running)", out, summary)


@node.command("restore")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--home", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="The node's home: config.toml, node.key, genesis.json; its data dir must be empty.")
def node_restore(file: Path, home: Path) -> None:
    """Restore FILE into HOME's data directory after checking every record and the file's hash.

    Refuses a damaged backup (BACKUP_CORRUPT), one of another chain than HOME's
    genesis (BACKUP_WRONG_CHAIN) and a home whose data directory is not empty
    (BACKUP_TARGET_NOT_EMPTY). Start the node afterwards: it catches up from its peers.
    """
    from node.backup import restore

    cfg, genesis = _home_genesis(home)
    summary = restore(file, cfg.data_dir, genesis)
    _print_summary("restored", file, summary)
    click.echo(f"into {cfg.data_dir}; audit it with: ballotchain audit --data {home}")


class _NodeFailure(UserError):
    exit_code = 70  # EX_SOFTWARE


class _DiskFailure(UserError):
    exit_code = 74  # EX_IOERR


def _stopped_store_home(home: Path) -> tuple[Path, Path]:
    """(data dir, genesis file) of a home whose node is not running."""
    from node.config import load_config
    from node.errors import NodeError
    from node.pidfile import claim_pid_file

    cfg = load_config(home)
    claim_pid_file(cfg.pid_file)  # refuses (NODE_ALREADY_RUNNING) while the node runs
    cfg.pid_file.unlink(missing_ok=True)
    if not (cfg.data_dir / "CURRENT").exists():
        raise NodeError(ErrorCode.STORE_NOT_FOUND, f"no database in {cfg.data_dir}")
    return cfg.data_dir, cfg.genesis_file


@node.command("check")
@click.option("--home", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="The node's home (the node must be stopped).")
@click.option("--full", is_flag=True, help="Check every record, not only the tip and a sample.")
def node_check(home: Path, full: bool) -> None:
    """Check the integrity of a stopped node's database; exit 74 if anything is damaged.

    Every damaged record is listed. The repair is `ballotchain node resync --home HOME`.
    """
    from node import integrity
    from node.store import Store

    data, _ = _stopped_store_home(home)
    with Store(data, create=False, max_open_files=64) as store:
        problems = integrity.full_check(store) if full else integrity.quick_check(store)
        height = store.height
    for p in problems:
        click.echo(f"damaged: {p}")
    if problems:
        raise _DiskFailure(
            ErrorCode.STORE_CORRUPT,
            f"{len(problems)} damaged records in {data}; repair with: ballotchain node resync --home {home}",
        )
    click.echo(f"{'full' if full else 'quick'} check passed: {data} (height {height})")


@node.command("resync")
@click.option("--home", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="The node's home (the node must be stopped).")
def node_resync(home: Path) -> None:
    """Replace a damaged database by an empty one, KEEPING the consensus safety record.

    The old database is moved aside (DATA.damaged-TIMESTAMP); the safety record
    (what this validator signed) and its acknowledged pending transactions are
    copied into the new one. Start the node afterwards: it fetches the chain
    from its peers and verifies every block. Never delete the data directory
    instead: that also deletes what stops a validator from signing conflicting votes.
    """
    from node import integrity
    from node.process import load_genesis

    data, genesis_file = _stopped_store_home(home)
    resynced = integrity.resync(data, load_genesis(genesis_file))
    click.echo(f"damaged database moved to {resynced.moved_to}")
    click.echo("consensus safety record: kept" if resynced.safety_record else
               "consensus safety record: none (this node never voted)")
    click.echo(f"pending transactions kept: {resynced.pending_kept}")
    click.echo(f"start the node to fetch the chain from its peers: ballotchain node start --home {home}")
