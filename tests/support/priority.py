"""Run a media test ahead of other work on a shared machine.

Tests that judge media as a viewer sees it (frames decoded, freezes, what
the adaptive controller decides from receiver reports) measure the machine
as much as the code when other jobs take the CPU: a starved server sends
late, a starved receiver reports late, and the adaptive controller rightly
reacts to both. These tests therefore run their server (the test process),
bots and browsers at a raised priority (a negative niceness; root only, as
the namespaces they create). Linux's niceness is per thread: threads
started inside the block (encoders, Chromium's) inherit it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

#: Niceness for the server, bots and browsers of media tests.
MEDIA_TEST_NICENESS = -10


@contextmanager
def ahead_of_other_work(niceness: int = MEDIA_TEST_NICENESS) -> Iterator[None]:
    before = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, niceness)
    try:
        yield
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, before)
