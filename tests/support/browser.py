"""Debian's Chromium driven by Playwright, inside a test-made network namespace.

Chromium gathers ICE candidates on its own interfaces; inside the namespace
the only one is the veth end the test created, so WebRTC traffic stays
between the two addresses of that pair. Never a downloaded browser:
``executable_path`` is a wrapper around /usr/bin/chromium.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tests.support.netns import Namespace

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Plain host candidates instead of mDNS names (aioice cannot look those up here).
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


class ConsoleErrors:
    """Console errors and uncaught exceptions of a page (the pages load no favicon)."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _console(self, msg: Any) -> None:
        if msg.type == "error":
            url = (msg.location or {}).get("url", "")
            self.errors.append(f"{msg.text} ({url})")


@asynccontextmanager
async def chromium_in(ns: Namespace, *, secure_origin: str | None = None) -> AsyncIterator[Any]:
    """Chromium in ``ns``; ``secure_origin``: treat that http origin as secure (getUserMedia
    exists only in secure contexts, and the test server is plain http on the veth address).
    """
    from playwright.async_api import async_playwright

    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} is missing: the README's test command installs it")
    with tempfile.TemporaryDirectory() as tmp:
        wrapper = os.path.join(tmp, "chromium-in-netns")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nexec {" ".join(ns.prefix())} {CHROMIUM} "$@"\n')
        os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IEXEC)
        async with async_playwright() as pw:
            args = list(CHROMIUM_ARGS)
            if secure_origin:
                args.append(f"--unsafely-treat-insecure-origin-as-secure={secure_origin}")
            browser = await pw.chromium.launch(executable_path=wrapper, args=args,
                                               headless=True)
            try:
                yield browser
            finally:
                await browser.close()
