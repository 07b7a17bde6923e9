"""``[core] hostname_callable`` for the workers of :mod:`tests.e2e.airflow_cluster`: workers on
one machine report the names of the machines they stand for (``OPEDS_TEST_HOSTNAME``)."""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("OPEDS_TEST_HOSTNAME") or socket.getfqdn()
