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

from tests.netns import Namespace

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


@asynccontextmanager
async def chromium_in(ns: Namespace) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} is missing: the README's test command installs it")
    with tempfile.TemporaryDirectory() as tmp:
        wrapper = os.path.join(tmp, "chromium-in-netns")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nexec {" ".join(ns.prefix())} {CHROMIUM} "$@"\n')
        os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IEXEC)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=wrapper, args=CHROMIUM_ARGS,
                                               headless=True)
            try:
                yield browser
            finally:
                await browser.close()
