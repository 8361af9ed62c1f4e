"""The project's experiments: scripts that print their figures and write their docs pages (docs/architecture.md).

``benchmarks.report`` reproduces the founding report (``python -m benchmarks.report``) and holds the
Markdown helpers every benchmark writes its page with (``benchmarks.report.page``).
"""
