"""Normal-case PBFT on a quiet network: every replica commits the same chain in view 0."""

from __future__ import annotations

import pytest

from consensus.sim.app import parse_block
from tests.consensus.helpers import quiet


@pytest.mark.parametrize("n", [4, 7])
def test_quiet_network_commits_in_view_zero(n: int) -> None:
    sim = quiet(n, target=8)
    chains = [[d for d, _, _ in x.chain] for x in sim.instances]
    assert all(len(c) >= 8 for c in chains)
    assert all(c[:8] == chains[0][:8] for c in chains)
    assert all(x.state.view == 0 and x.state.active for x in sim.instances)
    # primary(0) = 0 proposed every block, each on its predecessor
    prev = sim.chain_id
    for h, (d, block, _) in enumerate(sim.instances[1].chain[:8], start=1):
        parsed = parse_block(block)
        assert parsed is not None and parsed[0] == h and parsed[1] == prev and parsed[2] == 0
        prev = d
    # checkpoints every 2 heights became stable and the log was collected below them
    for x in sim.instances:
        assert x.state.log.stable is not None and x.state.log.stable.height >= 6
        assert all(h > x.state.log.stable.height for (_, h) in x.state.log.slots)
        assert not x.state.stats.rejected
