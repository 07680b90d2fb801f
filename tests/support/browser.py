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
async def chromium_in(ns: Namespace, *, secure_origin: str | None = None,
                      nice: int = 0) -> AsyncIterator[Any]:
    """Chromium in ``ns``; ``secure_origin``: treat that http origin as secure (getUserMedia
    exists only in secure contexts, and the test server is plain http on the veth address).
    ``nice``: run it at this niceness (negative: ahead of other work on a shared machine,
    for tests that judge media timing; needs root, as the namespace does).
    """
    from playwright.async_api import async_playwright

    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} is missing: the README's test command installs it")
    with tempfile.TemporaryDirectory() as tmp:
        wrapper = os.path.join(tmp, "chromium-in-netns")
        with open(wrapper, "w") as f:
            renice = f"nice -n {nice} " if nice else ""
            f.write(f'#!/bin/sh\nexec {renice}{" ".join(ns.prefix())} {CHROMIUM} "$@"\n')
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


# -- page checks shared by the browser tests ------------------------------------------------

AXE_JS = os.path.join(os.path.dirname(__file__), "axe", "axe.min.js")


async def axe_violations(page: Any, *, impacts: tuple[str, ...] = ("critical", "serious")
                         ) -> list[str]:
    """axe-core (vendored, tests/support/axe) on the page as it is now: the violations of
    the WCAG 2 A/AA rules with one of ``impacts``, one line each (rule, impact, nodes)."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.add_script_tag(path=AXE_JS)
    result = await page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
            return r.violations.map((v) => ({id: v.id, impact: v.impact,
                nodes: v.nodes.slice(0, 4).map((n) => n.target.join(' ') + ' :: ' + n.failureSummary)}));
        }""")
    return [f"{v['id']} ({v['impact']}): {v['nodes']}" for v in result
            if v["impact"] in impacts]


async def assert_accessible(page: Any, state: str) -> None:
    found = await axe_violations(page)
    assert found == [], f"axe found critical/serious violations in {state}:\n" + "\n".join(found)


async def assert_fits_phone(page: Any, state: str) -> None:
    """No horizontal scrolling, and every visible control at least 44 px tall and wide."""
    width = await page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{state}: the page scrolls sideways ({width[0]} > {width[1]} px)"
    small = await page.evaluate(
        """() => [...document.querySelectorAll('button, select, input:not([type=checkbox]):not([type=radio]), textarea, a.btn')]
            .filter((e) => e.offsetParent !== null && !e.closest('details:not([open]) > :not(summary)'))
            .map((e) => [e.id || e.className || e.tagName, e.getBoundingClientRect()])
            .filter(([, r]) => r.width > 0 && (r.height < 43.5 || r.width < 43.5))
            .map(([name, r]) => `${name} ${Math.round(r.width)}x${Math.round(r.height)}`)""")
    assert small == [], f"{state}: tap targets under 44 px: {small}"


async def screenshot(page: Any, name: str) -> None:
    """A screenshot for docs/screenshots when CLASSROOM_SCREENSHOTS names a directory."""
    folder = os.environ.get("CLASSROOM_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        await page.screenshot(path=os.path.join(folder, f"{name}.png"))


async def wait_connected(page: Any, timeout_ms: int = 30_000) -> None:
    """Until the page says "connected"; on a timeout, what it showed instead (and what it
    loaded: a blank page names the request it still waits for)."""
    try:
        await page.wait_for_function("document.body.dataset.connection === 'connected'",
                                     timeout=timeout_ms)
    except Exception:
        shown = await page.evaluate(
            "() => [document.readyState, document.body.dataset.connection,"
            " document.querySelector('#conn') && document.querySelector('#conn').innerText,"
            " window.classroom && window.classroom.state, document.body.innerText.slice(0, 300),"
            " performance.getEntriesByType('resource').map((e) => e.name.replace(location.origin,"
            " '').split('?')[0] + ' ' + Math.round(e.duration) + 'ms').slice(-8)]")
        raise AssertionError(f"{page.url} did not connect: {shown}") from None
