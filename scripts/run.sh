#!/usr/bin/env bash
# Run the server on its embedded defaults (no Redis, no API key) in development mode:
# it prints a teacher link and a student link. Extra arguments go to `python -m rtc_server`.
EXTRAS=""
source "$(dirname "$0")/_venv.sh"
exec .venv/bin/python -m rtc_server --dev "$@"
