"""Real Chromium: lesson content requested from the teacher page streams live to a student page."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from signaling.app import create_app
from signaling.keys import CLASSROOM
from tests.support.browser import ConsoleErrors, chromium_in
from tests.support.server import Harness, server_config

pytestmark = pytest.mark.browser


def card(page, generation_id: str, state: str | None = None):
    """The content panel's card of one generation (in ``state`` if given)."""
    selector = f":is(#panel-content, #panel-tools) [data-generation-id='{generation_id}']"
    return page.locator(selector + (f"[data-state='{state}']" if state else ""))


async def test_content_panels_stream_stop_visual_plan_and_confusion(netns, aiohttp_server):
    # 30 tokens/s: the ~200-token lesson streams for about 7 s, long enough to see it
    # half-written, short enough for the test.
    app = create_app(server_config(ice_host_addresses=(netns.host_ip,), local_tokens_per_s=30))
    server: TestServer = await aiohttp_server(app, host=netns.host_ip)
    await app[CLASSROOM].create_session(session_id="s1", teacher_id="teacher", subject="Science",
                                        grade_level="7")
    harness = Harness(server)
    base = f"http://{netns.host_ip}:{server.port}"
    async with chromium_in(netns) as browser:
        student = await browser.new_page()
        teacher = await browser.new_page()
        student_errors, teacher_errors = ConsoleErrors(student), ConsoleErrors(teacher)
        await student.goto(f"{base}/student.html?token={harness.token('stu1', 'student')}")
        await teacher.goto(f"{base}/teacher.html?token={harness.token('teacher', 'teacher')}")
        await student.wait_for_function("document.body.dataset.transport === 'datachannel'",
                                        timeout=20_000)
        await teacher.wait_for_function("window.classroom && window.classroom.welcome",
                                        timeout=20_000)
        await teacher.click("#tab-lesson")

        # 1. A lesson requested through the panel's form.
        await teacher.select_option("#content-kind", "lesson")
        await teacher.fill("#content-prompt", "Explain how volcanoes erupt")
        await teacher.fill("#content-topic", "volcanoes")
        await teacher.click("#content-request")
        status = teacher.locator("#content-status[data-generation-id]:not([data-generation-id=''])")
        await status.wait_for(timeout=10_000)
        gid = await status.get_attribute("data-generation-id")
        lesson = card(student, gid)
        # Part of the text is on the page while the generation is still streaming.
        await student.wait_for_function(
            """(id) => {
                const card = document.querySelector(`#panel-content [data-generation-id="${id}"]`);
                return card && card.dataset.state === 'streaming'
                    && card.querySelector('.content-body').innerText.trim().length > 0;
            }""", arg=gid, timeout=15_000)
        partial = await lesson.locator(".content-body").inner_text()
        await card(student, gid, "done").wait_for(timeout=20_000)
        final = await lesson.locator(".content-body").inner_text()
        assert len(final) > len(partial) > 0
        assert "volcanoes" in final.lower()
        # Rendered as Markdown: the title is a heading, not a line starting with "#".
        assert "volcanoes" in (await lesson.locator(".content-body h1").inner_text()).lower()
        assert "# volcanoes" not in final
        assert "by local-composer" in await lesson.locator(".content-provider").inner_text()
        # The teacher's panel showed the same generation to its end.
        await card(teacher, gid, "done").wait_for(timeout=5_000)

        # 2. The teacher stops a second generation; the student sees it marked stopped.
        await teacher.fill("#content-prompt", "Explain magnetism with fridge magnets")
        await teacher.fill("#content-topic", "magnetism")
        await teacher.click("#content-request")
        second = teacher.locator(
            f"#content-status[data-generation-id]:not([data-generation-id=''])"
            f":not([data-generation-id='{gid}'])")
        await second.wait_for(timeout=10_000)
        gid2 = await second.get_attribute("data-generation-id")
        await card(student, gid2).locator(".content-body p").first.wait_for(timeout=10_000)
        await teacher.wait_for_selector("#content-stop:not([disabled])", timeout=5_000)
        await teacher.click("#content-stop")
        stopped = card(student, gid2)
        await card(student, gid2, "stopped").wait_for(timeout=10_000)
        assert "Stopped" in await stopped.locator(".content-state").inner_text()
        kept = await stopped.locator(".content-body").inner_text()
        assert kept.strip() and "magnetism" in kept.lower()
        await teacher.wait_for_selector("#content-stop[disabled]", timeout=5_000)

        # 3. A visual arrives as an image; plan sections are listed as they complete.
        await teacher.select_option("#content-kind", "visual")
        await teacher.fill("#content-description", "A cross-section of a volcano")
        await teacher.click("#content-request")
        image = student.locator("#panel-content [data-visual-id][data-state='done'] img")
        await image.wait_for(timeout=10_000)
        assert (await image.get_attribute("src")).startswith("data:image/")
        await teacher.select_option("#content-kind", "plan")
        assert await teacher.locator("#content-prompt").is_hidden()
        await teacher.fill("#content-topic", "volcanoes")
        await teacher.fill("#content-minutes", "15")
        await teacher.click("#content-request")
        section = student.locator("#panel-content [data-kind='plan'] .content-section").first
        await section.wait_for(timeout=15_000)
        assert "min" in await section.inner_text()
        # Stopped from its own card on the teacher page.
        await teacher.locator("#panel-tools [data-kind='plan'] [data-stop]").click()
        await student.locator("#panel-content [data-kind='plan'][data-state='stopped']").wait_for(
            timeout=10_000)

        # The plan is drawn as a timeline against the lesson clock.
        await teacher.locator("#plan-timeline .timeline-seg").first.wait_for(timeout=10_000)

        # 4. "I'm confused" reaches the teacher, beside the content the student has in view:
        # the first lesson, scrolled back to at the bottom of the feed, not the latest (plan).
        await student.locator("#content-feed").evaluate("f => { f.scrollTop = f.scrollHeight; }")
        await student.fill("#confused-detail", "what is magma?")
        await student.click("#confused")
        await student.locator("#confused-state[data-sent='true']").wait_for(timeout=5_000)
        confusion = card(teacher, gid).locator(".content-confusions li[data-user='stu1']")
        await confusion.wait_for(timeout=5_000)
        assert "what is magma?" in await confusion.inner_text()

        assert student_errors.errors == []
        assert teacher_errors.errors == []
    await harness.close()
