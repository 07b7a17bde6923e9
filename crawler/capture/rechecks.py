"""When an already archived article is fetched again.

The clock of every schedule is the **night**: the date a night is archived for (``--night``, an
Airflow run's logical date), never the wall clock. A capture belongs to the night that made it
(``captures.night``); its ``WARC-Date`` stays the true time of capture. So what a night does
depends on the night and the catalog alone: a backfill of last week, a cleared run, a night run
ahead of the clock and tonight's run all make the same decisions for the same catalog.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date


def recheck_due(
    first_night: date,
    last_night: date,
    night: date,
    schedule_days: Sequence[int],
) -> bool:
    """Whether ``night`` is a scheduled re-check of an article first archived on ``first_night``
    and last fetched on ``last_night`` (nights, not capture times).

    With ``schedule_days = (1, 7, 30)`` an article is re-checked (with a conditional GET) on the
    first night at least 1, 7 and 30 nights after the night of its first capture, once per
    milestone, so later corrections are caught; otherwise it is not fetched again. Only captures
    of nights up to ``night`` count (the caller leaves out those of later nights, which a backfill
    finds in the catalog), so ``last_night`` is never after ``night``.
    """
    due = [first_night.toordinal() + d for d in sorted(schedule_days) if d > 0]
    reached = [d for d in due if d <= night.toordinal()]
    if not reached:
        return False
    return last_night.toordinal() < reached[-1]
