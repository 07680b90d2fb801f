"""Real Chromium: the teacher page asks, the student page answers, the teacher sees the verdict."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import interactions_fixtures as fx
from tests.support.browser import assert_accessible, chromium_in, screenshot, wait_connected

pytestmark = pytest.mark.browser
make_ix_server = fx.make_ix_server  # the fixture, visible to this module


async def _science_class(netns: Any, make_ix_server: Any) -> tuple[Any, str]:
    """A server on the namespace's host address with session s1, and its base URL."""
    harness = await make_ix_server(host=netns.host_ip, ice_host_addresses=(netns.host_ip,))
    await harness.classroom.create_session(session_id="s1", teacher_id="teacher",
                                           subject="Science")
    return harness, f"http://{netns.host_ip}:{harness.server.port}"


@pytest.mark.parametrize("ix_kind", ["memory"])
async def test_teacher_asks_student_answers_teacher_sees_evaluation(netns, make_ix_server, ix_kind):
    harness, base = await _science_class(netns, make_ix_server)
    async with chromium_in(netns) as browser:
        teacher = await browser.new_page()
        student = await browser.new_page()
        await teacher.goto(f"{base}/teacher.html?token={harness.token('teacher', 'teacher')}")
        await student.goto(f"{base}/student.html?token={harness.token('stu1', 'student')}")
        for page in (teacher, student):
            await wait_connected(page)
        await teacher.locator("#panel-roster[data-online='1']").wait_for(state="attached",
                                                                          timeout=10_000)

        # The correct answer is picked by clicking its choice, not typed as a number.
        await teacher.fill("#q-text", "Which gas do plants take in?")
        for i, choice in enumerate(["Oxygen", "Carbon dioxide", "Nitrogen"]):
            await teacher.locator(".q-choice").nth(i).fill(choice)
        await teacher.locator(".q-correct").nth(1).check()
        await teacher.select_option("#q-limit", "120")
        await teacher.click("#q-ask")

        choice = student.locator("#question .choice[data-index='1']")
        await choice.wait_for(timeout=10_000)
        assert "Carbon dioxide" in await choice.inner_text()
        left = int(await student.locator("#question-countdown").get_attribute("data-left"))
        assert 100 < left <= 120
        await choice.click()
        receipt = student.locator("#receipt[data-answer-id]")
        await receipt.wait_for(timeout=10_000)
        answer_id = await receipt.get_attribute("data-answer-id")
        assert answer_id and answer_id.startswith("a-")
        assert "Carbon dioxide" in await receipt.inner_text()

        # The teacher: live distribution, the roster's mark, then results and the reveal.
        await teacher.locator("#q-answered[data-n='1'][data-of='1']").wait_for(timeout=10_000)
        await teacher.locator("#question-live .bar[data-index='1'][data-count='1']").wait_for()
        await teacher.locator(".roster-row[data-user='stu1'][data-answered='right']").wait_for(
            timeout=10_000)
        await teacher.click("#q-close")
        await teacher.locator("#question-live[data-status='closed'] .bar-correct[data-index='1']"
                              ).wait_for(timeout=10_000)
        await teacher.click("#q-reveal")
        result = student.locator("#result[data-correct='true']")
        await result.wait_for(timeout=10_000)
        assert "Right" in await result.inner_text()
        assert await student.evaluate("window.classroom.eventsVia") == "datachannel"


@pytest.mark.parametrize("ix_kind", ["memory"])
async def test_a_session_lookup_that_never_answers_does_not_leave_the_student_page_blank(
        netns, make_ix_server, ix_kind):
    # A student's first request hangs (a stalled proxy, a lost packet on a phone's link):
    # the page gives up on it after 10 s and joins the class over the WebSocket anyway.
    harness, base = await _science_class(netns, make_ix_server)
    stalled: list[str] = []

    async def never_answer(route: Any) -> None:
        if not stalled:
            stalled.append(route.request.url)
            return  # neither fulfilled nor continued: the request hangs
        await route.continue_()

    async with chromium_in(netns) as browser:
        student = await browser.new_page()
        await student.route("**/api/sessions/**", never_answer)
        await student.goto(f"{base}/student.html?token={harness.token('stu1', 'student')}")
        await wait_connected(student)
        assert stalled and stalled[0].split("?")[0].endswith("/api/sessions/s1")
        assert await student.locator("#panel-media").count() == 1
        assert await student.evaluate("window.classroom.state") == "connected"


@pytest.mark.parametrize("ix_kind", ["memory"])
async def test_a_module_lost_to_a_network_switch_is_loaded_again_not_a_blank_page(
        netns, make_ix_server, ix_kind):
    # A phone that switches networks while the page loads: Chromium fails the requests in
    # flight (ERR_NETWORK_CHANGED) and one missing module stops the whole module graph.
    harness, base = await _science_class(netns, make_ix_server)
    failed: list[str] = []

    async def lose_once(route: Any) -> None:
        if not failed:
            failed.append(route.request.url)
            await route.abort("internetdisconnected")
            return
        await route.continue_()

    async def lose_always(route: Any) -> None:
        failed.append(route.request.url)
        await route.abort("internetdisconnected")

    async with chromium_in(netns) as browser:
        student = await browser.new_page()
        await student.route("**/panels/chat-student.js", lose_once)
        await student.goto(f"{base}/student.html?token={harness.token('stu1', 'student')}")
        await wait_connected(student)  # reloaded by the page itself, then joined
        assert len(failed) == 1

        # A network that stays down: three more tries, then the page says so (both languages).
        failed.clear()
        other = await browser.new_page()
        await other.route("**/panels/chat-student.js", lose_always)
        await other.goto(f"{base}/student.html?token={harness.token('stu2', 'student')}")
        alert = other.locator("main.boot-failed[role='alert']")
        await alert.wait_for(timeout=20_000)
        assert "did not load" in await alert.inner_text()
        assert "다시 시도" in await other.locator("main.boot-failed button").inner_text()
        assert len(failed) == 4  # the first load and three reloads
        await assert_accessible(other, "the page that could not load")
        await screenshot(other, "boot-failed")
