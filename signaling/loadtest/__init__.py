"""``classroom-rtc loadtest``: many headless students in one class, and what they saw.

Modelled on LiveKit's ``lk load-test``. Students are real aiortc clients
(:class:`~signaling.client.ClassroomClient`) that receive events over the data
channel or the WebSocket and, for a share of them, the teacher's video and audio
without decoding it; a synthetic teacher publishes a test pattern, broadcasts at a
fixed rate and can stream an AI lesson. Students can be spread over several bot
processes, so the tool is not the bottleneck. It prints a live progress line and
ends with a table (and JSON with ``--json``); :mod:`.report` defines each figure.

    classroom-rtc loadtest --url http://127.0.0.1:8080 --api-secret "$SECRET" \\
        --students 300 --video-share 0.1 --publish synthetic --rate 10 --duration 60 \\
        --processes 2

Modules: :mod:`.options` (flags), :mod:`.runner` (the run), :mod:`.bot_process` (one
bot process), :mod:`.student` (one student), :mod:`.teacher` (the synthetic teacher),
:mod:`.server_metrics` (``/metrics``), :mod:`.stats` and :mod:`.report` (figures).
"""

from __future__ import annotations

from .cli import main
from .options import LoadTestOptions, parse_options
from .report import Report

__all__ = ["LoadTestOptions", "Report", "main", "parse_options"]
