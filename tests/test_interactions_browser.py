"""Real Chromium: the teacher page asks, the student page answers, the teacher sees the verdict."""

from __future__ import annotations

import pytest

from tests.support import interactions_fixtures as fx
from tests.support.browser import chromium_in

pytestmark = pytest.mark.browser
make_ix_server = fx.make_ix_server  # the fixture, visible to this module


@pytest.mark.parametrize("ix_kind", ["memory"])
async def test_teacher_asks_student_answers_teacher_sees_evaluation(netns, make_ix_server, ix_kind):
    harness = await make_ix_server(host=netns.host_ip, ice_host_addresses=(netns.host_ip,))
    await harness.classroom.create_session(session_id="s1", teacher_id="teacher",
                                           subject="Science")
    base = f"http://{netns.host_ip}:{harness.server.port}"
    async with chromium_in(netns) as browser:
        teacher = await browser.new_page()
        student = await browser.new_page()
        await teacher.goto(f"{base}/teacher.html?token={harness.token('teacher', 'teacher')}")
        await student.goto(f"{base}/student.html?token={harness.token('stu1', 'student')}")
        for page in (teacher, student):
            await page.wait_for_selector("#panel-interactions[data-ready='true']", timeout=20_000)

        await teacher.fill("#ix-q-text", "Which gas do plants take in?")
        await teacher.fill("#ix-q-choices", "Oxygen, Carbon dioxide, Nitrogen")
        await teacher.fill("#ix-q-correct", "1")
        await teacher.fill("#ix-q-limit", "120")
        await teacher.click("#ix-q-submit")

        choice = student.locator(".ix-choice[data-index='1']")
        await choice.wait_for(timeout=10_000)
        assert await choice.inner_text() == "Carbon dioxide"
        await choice.click()
        receipt = student.locator(".ix-receipt[data-answer-id]")
        await receipt.wait_for(timeout=10_000)
        answer_id = await receipt.get_attribute("data-answer-id")
        assert answer_id and answer_id.startswith("a-")

        row = teacher.locator(f"li.ix-answer[data-answer-id='{answer_id}'][data-correct='true']")
        await row.wait_for(timeout=10_000)
        text = await row.inner_text()
        assert "Stu1" in text and "Carbon dioxide" in text and "correct" in text
        assert await student.evaluate("window.classroom.eventsVia") == "datachannel"
