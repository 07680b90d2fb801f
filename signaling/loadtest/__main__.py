"""``python -m signaling.loadtest``: the load test (see :mod:`signaling.loadtest`)."""

from .cli import main

raise SystemExit(main())
