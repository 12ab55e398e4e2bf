"""``ballotchain genesis``: the ceremony (contribute, assemble, verify) and local test networks."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path

import click

from ballot_tx.errors import ErrorCode, GenesisError
from ballot_tx.keys import node_id, public_info
from cli import keyfile
from cli.common import Group, fail, read_password_stdin, read_text
from genesis import ceremony
from genesis.document import ConsensusParams, from_json, genesis_hash, to_json
from genesis.localnet import DEFAULT_BASE_PORT, DEFAULT_PARAMS
from node.homes import make_network


@click.group(cls=Group)
def genesis() -> None:
    """Make a chain's genesis from contributed keys, verify it; or make a local test network."""


@genesis.command("new")
@click.option("--chain-id", required=True, help="Human name of the chain, e.g. tsukuba-2026.")
@click.option("--validators", default=4, show_default=True, help="Number of validators (3f+1, >= 4).")
@click.option("--observers", default=1, show_default=True, help="Number of read-only observers.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Directory for node homes.")
@click.option("--base-port", default=DEFAULT_BASE_PORT, show_default=True, help="First loopback port.")
def genesis_new(chain_id: str, validators: int, observers: int, out: Path, base_port: int) -> None:
    """LOCAL TEST NETWORKS ONLY: make every key on this machine, one home per node under OUT.

    All node, admin and registrar keys are made here, unencrypted, with loopback
    addresses. A real deployment uses the ceremony instead: each organisation
    runs `keys new` and `genesis contribute` on its own host, a coordinator runs
    `genesis assemble`, everyone runs `genesis verify`.
    """
    if observers < 0:
        fail(ErrorCode.USAGE, "--observers must be >= 0")
    try:
        g, homes = make_network(out, chain_id, validators, observers, base_port)
    except FileExistsError as e:
        fail(ErrorCode.IO_ERROR, str(e))
    click.echo(f"chain {g.chain_id}: genesis hash {genesis_hash(g).hex()}")
    for h in homes:
        click.echo(f"  {h.name:12} {h.mode:9} {h.address:21} id {h.node_id}  {h.path}")
    click.echo(f"  authority keys: {out / 'authorities'}")
    click.echo("  (a local test network: every key was made on this machine)")


@genesis.command("contribute")
@click.option("--key", "key_file", type=click.Path(path_type=Path), required=True,
              help="Your key file (made with `keys new`); only public keys and a signature leave it.")
@click.option("--role", type=click.Choice(ceremony.ROLES), required=True,
              help="What this key does on the chain.")
@click.option("--name", required=True, help="Your organisation, e.g. \"Tsukuba City data centre\".")
@click.option("--address", default="", help="Validators and observers: https://host:port peers and clients use.")
@click.option("--chain-id", "chain", default="", help="Only valid for a genesis with this chain id.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Contribution file to write.")
@click.option("--password-stdin", is_flag=True, help="Read the key file's password from stdin.")
def genesis_contribute(key_file: Path, role: str, name: str, address: str, chain: str, out: Path,
                       password_stdin: bool) -> None:
    """Sign your public keys, role, name and address into a contribution for the coordinator."""
    password = read_password_stdin() if password_stdin else None
    keys = keyfile.load(key_file, password)
    s = ceremony.contribute(keys, role, name, address, chain)
    if out.exists():
        fail(ErrorCode.IO_ERROR, f"{out} already exists; refusing to overwrite it")
    out.write_text(ceremony.to_json(s))
    click.echo(f"wrote {out}: {role} {name!r} node_id {s.node_id}"
               + (f" at {s.contribution.address}" if s.contribution.address else ""))
    click.echo("send this file (it holds no secret) to the coordinator")


def _read_params(path: Path | None) -> ConsensusParams:
    if path is None:
        return DEFAULT_PARAMS
    try:
        doc = tomllib.loads(read_text(path))
    except tomllib.TOMLDecodeError as e:
        raise GenesisError(ErrorCode.GENESIS_INVALID, f"{path} is not valid TOML: {e}") from None
    doc = doc.get("params", doc)
    return ceremony.params_from(doc, DEFAULT_PARAMS)


@genesis.command("assemble")
@click.argument("contributions", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--chain-id", required=True, help="Human name of the chain, e.g. tsukuba-2026.")
@click.option("--params", "params_file", type=click.Path(path_type=Path),
              help="TOML file of consensus parameters (max_block_txs = 500, ...); defaults otherwise.")
@click.option("--genesis-time-ms", type=int, help="Genesis time (ms since 1970); now by default.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="genesis.json to write.")
def genesis_assemble(contributions: tuple[Path, ...], chain_id: str, params_file: Path | None,
                     genesis_time_ms: int | None, out: Path) -> None:
    """Coordinator: check every contribution and assemble genesis.json from them.

    Refuses a contribution whose signature does not verify, a key or address
    contributed twice, an unknown role, or one made for another chain.
    Members and authorities are ordered by node id, so the same inputs and
    --genesis-time-ms give the same hash anywhere.
    """
    items = [(str(p), ceremony.from_json(read_text(p), str(p))) for p in contributions]
    params = _read_params(params_file)
    t = int(time.time() * 1000) if genesis_time_ms is None else genesis_time_ms
    g = ceremony.assemble(items, chain_id, params, t)
    if out.exists():
        fail(ErrorCode.IO_ERROR, f"{out} already exists; refusing to overwrite it")
    out.write_text(to_json(g))
    names = {s.contribution.ed25519_public: s.contribution.name for _, s in items}
    w = max((len(m.address) for m in (*g.validators, *g.observers)), default=0)
    click.echo(f"wrote {out}: chain {chain_id}, {g.n} validators (f={g.f}), "
               f"{len(g.observers)} observers, {len(g.authorities)} authorities")
    for i, m in enumerate(g.validators):
        click.echo(f"  validator {i}  {m.node_id}  {m.address:{w}}  {names[m.ed25519_public]}")
    for i, m in enumerate(g.observers):
        click.echo(f"  observer  {i}  {m.node_id}  {m.address:{w}}  {names[m.ed25519_public]}")
    for a in g.authorities:
        click.echo(f"  {a.role:11}  {node_id(a.ed25519_public)}  {a.name}")
    click.echo(f"genesis hash: {genesis_hash(g).hex()}")
    click.echo("every organisation: ballotchain genesis verify genesis.json --expect HASH --key YOUR.key")


@genesis.command("verify")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--expect", help="Fail unless the genesis hash equals this hex value.")
@click.option("--key", "key_file", type=click.Path(path_type=Path),
              help="Your key file: check the genesis lists it (public part only is read).")
@click.option("--contribution", "contribution_file", type=click.Path(path_type=Path),
              help="Your contribution: check your entry is exactly what you signed.")
def genesis_verify(file: Path, expect: str | None, key_file: Path | None,
                   contribution_file: Path | None) -> None:
    """Check FILE (n = 3f+1, unique ids, keys and addresses, well-formed keys) and print its hash."""
    g = from_json(read_text(file))
    h = genesis_hash(g).hex()
    if expect is not None and expect.strip().lower() != h:
        fail(ErrorCode.GENESIS_HASH_MISMATCH, f"genesis hash {h} does not match the expected {expect}")
    click.echo(f"ok: chain {g.chain_id}, {g.n} validators (f={g.f}), {len(g.observers)} observers")
    expected = None
    if contribution_file is not None:
        expected = ceremony.from_json(read_text(contribution_file), str(contribution_file)).contribution
    pub: bytes | None = None
    if key_file is not None:
        pub = bytes.fromhex(public_info(read_text(key_file))["ed25519_public"])
    elif expected is not None:
        pub = expected.ed25519_public
    if pub is not None:
        role = ceremony.check_entry(g, pub, expected)
        where = ceremony.entry_of(g, pub)
        assert where is not None
        detail = where[1].get("address") or where[1].get("name")
        click.echo(f"your entry: {role} {node_id(pub)} {detail}"
                   + (" (matches your contribution)" if expected else ""))
    click.echo(f"genesis hash: {h}")
    if expect is not None:
        click.echo(f'pin it in config.toml [node]: genesis_hash = "{h}"')


