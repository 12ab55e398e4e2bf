"""PBFT consensus (Castro & Liskov, OSDI'99) as a pure state machine.

Driving it (what ``node`` does)::

    from consensus.replica import init_state, step
    from consensus.events import Start, Received, TimerFired, ProposalReady, Executed, FetchedBlocks
    from consensus.messages import decode_message, encode_message

    st = init_state(genesis, my_index, chain_id, key, app, persisted=record_or_None,
                    committed_height=tip_height, committed_hash=tip_hash)
    st, actions = step(st, Start())
    st, actions = step(st, Received(decode_message(peer_bytes), now_ms))   # decode errors: ConsensusError

Events in: ``Start``, ``Received(message, at_ms)``, ``TimerFired(name, token)``,
``ProposalReady(height, view, block)``, ``Executed(height, state_root)``,
``FetchedBlocks(((block, certificate), ...))``.

Actions out, to be carried out in order (contract in ``consensus.events``):
``Persist(record)`` (durable before anything after it), ``Send(message, to)``
(``to=None``: all other validators; bytes = ``encode_message(message)``),
``SetTimer(name, token, delay_ms)`` / ``CancelTimer(name)``,
``RequestProposal(height, view, prev_hash)`` (answer with ``ProposalReady``),
``CommitBlock(height, block, certificate)`` (store atomically, execute, answer
``Executed``), ``Fetch(from_height, peers)`` (answer ``FetchedBlocks``).

Modules: ``messages`` (wire types), ``verify`` (signature checks with a verdict cache),
``certificate`` (``CommitCertificate``, ``verify_certificate``), ``checkpoint`` (§4.3),
``viewchange`` (§4.4), ``replica`` (the step function: a package with one module per
section of the paper, see its docstring), ``events`` (events, actions, the ``App``
callback protocol and ``SafetyRecord``), ``sim`` (seeded hostile simulation).
"""
