"""A faithful, stateful Genesys Cloud simulator on loopback, with fault injection.

``start_simulator()`` (in :mod:`.server`) runs it in a daemon thread and returns a handle (``url``, ``port``,
``state``, ``client_id``/``client_secret``, ``stop()``); ``serve_forever()`` runs it for ``presence-manager sim``.
The org comes from ``data/org.json`` (:mod:`.fixture`); its state lives in :class:`.state.SimulatorState`.
"""
