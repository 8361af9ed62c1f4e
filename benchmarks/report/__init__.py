"""Reproduce the founding report's experiment tables: ``python -m benchmarks.report --data ... --jobs 2``.

- ``protocol``: the constants, experiments, tables and run configurations, and which runs are finished.
- ``stats``: paired differences with their intervals, the plateau slope and the budget rule.
- ``plots``: the curve images and the forest plot of the claims.
- ``page``: the Markdown of docs/results.md, and the section and table helpers of every benchmark page.
- ``run``: training and scoring the runs side by side, and the command line (``main``).
"""
