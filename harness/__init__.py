"""The demo and test harness: elections driven from Python against an in-process chain
(``localchain``) or a running network (``netchain``, ``txgen``), and the browser polls
(``webpoll``). Not part of a node: nothing in ballot_tx, genesis, consensus, node or cli
imports it, except the ``ballotchain demo`` commands (see .importlinter)."""
