"""Reports from a results store: statistics, plots, leaderboard markdown and comparisons.

``make_report(out_dir)`` writes ``OUT/report/leaderboard.md`` and its plots and returns the
markdown's path (what ``zobench report`` and ``zobench run --report`` do).
"""

from zobench.report.publish import make_report

__all__ = ["make_report"]
