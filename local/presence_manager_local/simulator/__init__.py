"""A faithful, stateful Genesys Cloud simulator on loopback, with fault injection.

``start_simulator()`` (in :mod:`.server`) runs it in a daemon thread and returns a handle (``url``, ``port``,
``state``, ``client_id``/``client_secret``, ``stop()``); ``serve_forever()`` runs it for ``presence-manager sim``.
The org comes from ``data/org.json`` (:mod:`.fixture`) or, with ``agents=N``, is generated from it at that size
(:mod:`.scale`); its state lives in :class:`.state.SimulatorState`, a facade over one module per concern
(:mod:`.org`, :mod:`.presence`, :mod:`.routing`, :mod:`.wfm`, :mod:`.auth`, :mod:`.admin`, :mod:`.faults`).
"""
