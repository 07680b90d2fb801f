"""``classroom-rtc loadtest`` / ``python -m signaling.loadtest``: parse, run, print.

The same entry point runs a bot process when the load test starts one
(``--child-index``, see :mod:`.bot_process`).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from .bot_process import BotProcess
from .options import parse_options
from .runner import LoadTest
from .teacher import LoadTestError

__all__ = ["main"]


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        import uvloop
    except ImportError:  # Windows
        return asyncio.run(coro)
    return uvloop.run(coro)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    options = parse_options(args)
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if options.is_child:
        _run(BotProcess(options).run())
        return 0
    try:
        report = _run(LoadTest(options, args).run())
    except LoadTestError as exc:
        print(f"\nclassroom-rtc loadtest: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    table_to = sys.stderr if options.json else sys.stdout
    print("\n" + report.table(), file=table_to, flush=True)
    if options.json:
        print(report.to_json(), flush=True)
    return 0
