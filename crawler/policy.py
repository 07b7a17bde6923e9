"""When an already archived article is fetched again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime


def recheck_due(
    first_captured: datetime,
    last_checked: datetime,
    night: date,
    schedule_days: Sequence[int],
) -> bool:
    """Whether tonight is a scheduled re-check of an article first archived at ``first_captured``.

    With ``schedule_days = (1, 7, 30)`` an article is re-checked (with a conditional GET) on the
    first night at least 1, 7 and 30 days after its first capture, once per milestone, so later
    corrections are caught; otherwise it is not fetched again.
    """
    first = first_captured.date()
    last = last_checked.date()
    due = [first.toordinal() + d for d in sorted(schedule_days) if d > 0]
    reached = [d for d in due if d <= night.toordinal()]
    if not reached:
        return False
    return last.toordinal() < reached[-1]
