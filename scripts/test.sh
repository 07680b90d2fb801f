#!/usr/bin/env bash
# Install everything the tests need and run them: lint, types, then pytest.
# Needs: Debian's chromium (installed here when missing and running as root), a Redis
# server at 127.0.0.1:6379 (started here when missing; under CI a Redis that cannot be
# reached fails the run), root for the network-namespace tests.
EXTRAS="test"
source "$(dirname "$0")/_venv.sh"

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian's chromium…"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "error: /usr/bin/chromium is missing; install Debian's chromium package" >&2
    exit 1
  fi
fi
# Korean pages need a Hangul font, or the screenshots the browser tests take show boxes.
if ! fc-list :lang=ko 2>/dev/null | grep -q .; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing a Korean font (fonts-noto-cjk)…"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends fonts-noto-cjk >/dev/null
  else
    echo "warning: no Korean font (Debian's fonts-noto-cjk): Korean screenshots show boxes" >&2
  fi
fi

# GStreamer's webrtcbin as a third-party WHIP publisher (tests/test_whip_interop.py), driven
# through Debian's python3-gi by the system /usr/bin/python3 (gi is not in the venv).
GST_PACKAGES="python3-gi gir1.2-gst-plugins-base-1.0 gir1.2-gst-plugins-bad-1.0 \
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-nice"
# shellcheck disable=SC2086
if ! dpkg -s $GST_PACKAGES >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian's GStreamer WebRTC packages…"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends $GST_PACKAGES >/dev/null
  else
    echo "warning: Debian's $GST_PACKAGES are missing: the GStreamer WHIP tests will fail" >&2
  fi
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if command -v redis-server >/dev/null; then
    echo "starting redis-server on 127.0.0.1:6379…"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp --logfile /tmp/classroom-rtc-redis.log
    for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "error: no Redis at 127.0.0.1:6379 and none could be started" >&2
    exit 1
  fi
fi
export CLASSROOM_REQUIRE_REDIS=1

.venv/bin/ruff check .
.venv/bin/mypy rtc_server signaling adaptive
# The layers contract (pyproject.toml [tool.importlinter], docs/architecture.md).
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
