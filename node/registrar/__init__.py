"""The registrar service: voters register from a phone or a city counter, over HTTP(S).

``ballotchain registrar serve`` runs it beside the nodes. It holds the registrar key
and nothing about ballots. It checks each request with the election's eligibility
module and registers the voter keys on chain in ``RegisterKeys`` batches, answering
every request with its registration transaction's hash (its tracking code), so the
voter's page can check the registration on chain itself.

One concept to a module: ``config`` (registrar.toml), ``chain_link`` (the chain through
one node's client API), ``batcher`` (registrations into transactions), ``provider`` (the
city's OpenID Connect provider), ``login`` (a sign-in between its steps), ``limiter``
(per-client rate limit), ``service`` (the checks: ``Registrar``), ``app`` (the HTTP
routes), ``serve`` (the process), ``errors`` (the refusal type).

Privacy: log lines carry election ids, counts and heights only; never a login
subject, an ID token or a card serial.
"""
