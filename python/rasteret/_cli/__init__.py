"""Helpers of the ``rasteret`` command line (:mod:`rasteret.cli`).

- :mod:`rasteret._cli.args`: shared argument types and options (``--bbox``, ``--json``...).
- :mod:`rasteret._cli.output`: JSON/table printing, collection summaries, name resolution.
- :mod:`rasteret._cli.collections`: ``rasteret collections ...``.
- :mod:`rasteret._cli.datasets`: ``rasteret datasets ...`` and ``rasteret build``.
"""
