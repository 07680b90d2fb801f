"""Real Chromium: a whole lesson in the web app — a teacher and three students.

The server runs as its own process (``python -m rtc_server`` with Redis) so that it can be
killed and started again mid-lesson. The teacher creates the class on the start page; the
students join by code with a name: one on a desktop, one on a 390×844 phone, one in Korean;
the lesson is taught from a PDF the teacher uploads, and a fourth student who joins late
(after a server restart) sees it so far.
Along the way every page state is checked with axe-core (0 critical, 0 serious), the phone
pages for sideways scrolling and tap targets, and — with CLASSROOM_SCREENSHOTS=docs/screenshots
— each state is saved as a screenshot at desktop and phone size.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.browser import (
    ConsoleErrors,
    assert_accessible,
    assert_fits_phone,
    chromium_in,
    screenshot,
    wait_connected,
)
from tests.support.material_pdfs import markdown_pdf
from tests.support.redis_util import delete_prefix, require_redis, unique_prefix
from tests.support.server import SECRET

pytestmark = [pytest.mark.browser, pytest.mark.redis]

ROOT = Path(__file__).resolve().parent.parent
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
CONNECTED = "document.body.dataset.connection === 'connected'"
READING = """# Photosynthesis

Plants make their own food by photosynthesis. Chlorophyll in the leaves absorbs light.
The leaves take in carbon dioxide from the air through small pores called stomata.
The roots take up water from the soil.

## What plants make

With the energy of light, plants turn carbon dioxide and water into glucose, a sugar.
Oxygen is released into the air as a by-product. Plants store extra glucose as starch.
"""


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``python -m rtc_server`` on the namespace's host address, killed and started again."""

    def __init__(self, host: str, redis_url: str, prefix: str) -> None:
        self.host = host
        self.port = free_port(host)
        self.base = f"http://{host}:{self.port}"
        self.args = [sys.executable, "-m", "rtc_server", "--host", host, "--port", str(self.port),
                     "--ice-host-addresses", host, "--api-secret", SECRET, "--open-classes",
                     "--redis-url", redis_url, "--redis-key-prefix", prefix,
                     "--local-tokens-per-s", "60", "--no-load-shedding", "--no-adaptive-quality",
                     # The killed process leaves the admin page's workers 8 s after its
                     # last status (15 s by default).
                     "--worker-status-ttl-s", "8", "--log-level", "warning"]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, cwd=ROOT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.base}/healthz", timeout=1)
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.proc.returncode}") from None
                time.sleep(0.1)
        raise RuntimeError("the server did not answer /healthz within 30 s")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


async def page_in(browser, *, viewport=DESKTOP, locale="en-US", mobile=False):
    context = await browser.new_context(viewport=viewport, locale=locale, is_mobile=mobile,
                                        has_touch=mobile, device_scale_factor=2 if mobile else 1)
    page = await context.new_page()
    return page, ConsoleErrors(page)


async def on_phone(page, name: str, state: str) -> None:
    """The same page at phone size: fits, no sideways scrolling, big enough targets."""
    size = page.viewport_size
    await page.set_viewport_size(PHONE)
    await page.wait_for_timeout(300)
    await assert_fits_phone(page, state)
    await screenshot(page, name)
    await page.set_viewport_size(size)


ROSTER_BADGES_CUT = """() => {
  const inside = (r, box) => r.left >= box.left - 0.5 && r.right <= box.right + 0.5
    && r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5;
  return [...document.querySelectorAll('.roster-row')].flatMap((row) => {
    const badges = row.querySelector('.roster-badges');
    const rowBox = row.getBoundingClientRect(), box = badges.getBoundingClientRect();
    return [...badges.querySelectorAll('.badge')].filter((b) => b.scrollWidth > b.clientWidth
        || !inside(b.getBoundingClientRect(), box) || !inside(b.getBoundingClientRect(), rowBox))
      .map((b) => `${row.dataset.user}: ${b.textContent}`);
  });
}"""


async def join(page, base: str, code: str, name: str) -> None:
    await page.goto(f"{base}/join.html?code={code}")
    await page.locator("#join-info[data-found='true']").wait_for(state="attached", timeout=10_000)
    await page.fill("#join-name", name)
    await page.click("#join-go")
    await page.wait_for_url("**/student.html?token=*", timeout=10_000)
    await wait_connected(page)


@pytest.mark.timeout(900)
async def test_a_whole_lesson_with_a_teacher_and_three_students(netns):
    url, prefix = require_redis(), unique_prefix()
    server = ServerProcess(netns.host_ip, url, prefix)
    server.start()
    base = server.base
    try:
        async with chromium_in(netns, secure_origin=base) as browser:
            await lesson(browser, server, base)
    finally:
        server.stop()
        await delete_prefix(url, prefix)


async def lesson(browser, server: ServerProcess, base: str) -> None:
    teacher, teacher_errors = await page_in(browser)

    # -- the start page: the teacher creates the class -----------------------------------------
    await teacher.goto(f"{base}/")
    await assert_accessible(teacher, "start page")
    await screenshot(teacher, "start-desktop")
    await on_phone(teacher, "start-phone", "start page")
    await teacher.fill("#create-teacher", "Ms Kim")
    await teacher.fill("#create-subject", "Science")
    await teacher.fill("#create-grade", "7")
    await teacher.fill("#create-topic", "Photosynthesis")
    await teacher.select_option("#create-language", "en")
    await teacher.fill("#create-minutes", "0")
    await teacher.click("#create-go")
    # A validation problem in words, not a field name.
    assert "1 to 600" in await teacher.locator("#create-status").inner_text()
    await teacher.fill("#create-minutes", "45")
    await teacher.click("#create-go")
    code = (await teacher.locator("#created-code").inner_text()).strip()
    assert len(code) == 6
    await assert_accessible(teacher, "start page, class created")
    await screenshot(teacher, "start-created-desktop")
    await teacher.click("#created-teacher-link")
    await teacher.wait_for_url("**/teacher.html?token=*")
    await wait_connected(teacher)
    assert await teacher.locator("#class-title").inner_text() == "Science · Grade 7"
    assert await teacher.locator("#class-topic").inner_text() == "Photosynthesis"
    assert "/ 45:00" in await teacher.locator("#lesson-timer").inner_text()
    # The server load from the welcome (this server does not measure it: --no-load-shedding).
    load = teacher.locator("#server-load[data-monitoring='false']")
    assert await load.is_visible() and "not measured" in await load.inner_text()

    # -- three students join by code with a name -----------------------------------------------
    mina, mina_errors = await page_in(browser)
    jae, jae_errors = await page_in(browser, viewport=PHONE, mobile=True)
    seoyeon, seoyeon_errors = await page_in(browser, locale="ko-KR")
    await jae.goto(f"{base}/join.html?code=ZZZZZZ")
    await jae.locator("#join-status:text('no class with the code ZZZZZZ')").wait_for(timeout=10_000)
    await assert_accessible(jae, "join page (phone), unknown code")
    await assert_fits_phone(jae, "join page (phone)")
    await screenshot(jae, "join-unknown-code-phone")
    await join(jae, base, code, "Jae")
    await join(mina, base, code, "Mina")
    await seoyeon.goto(f"{base}/join.html?code={code}")
    assert await seoyeon.locator("#join-title").inner_text() == "수업 들어가기"
    await seoyeon.fill("#join-name", "서연")
    await assert_accessible(seoyeon, "join page (Korean)")
    await screenshot(seoyeon, "join-korean-desktop")
    await join(seoyeon, base, code, "서연")
    await teacher.locator("#panel-roster[data-online='3'][data-total='3']").wait_for(
        state="attached", timeout=15_000)
    for name in ("Mina", "Jae", "서연"):
        await teacher.locator(f".roster-row:has-text('{name}')").wait_for()
    assert "Browser" in await teacher.locator(".roster-row:has-text('Jae')").inner_text()
    assert await seoyeon.locator("#content-title").inner_text() == "수업 내용"
    await assert_accessible(jae, "student page (phone), nothing open")
    await assert_fits_phone(jae, "student page (phone)")

    # -- video: the teacher's camera plays on the students' pages ------------------------------
    await teacher.click("#media-camera")
    await teacher.locator("#panel-media[data-publishing='camera + mic']").wait_for(
        state="attached", timeout=15_000)
    for student in (mina, jae):
        await student.wait_for_function(
            "() => { const v = document.querySelector('#media-video');"
            " return v && v.videoWidth > 0 && v.currentTime > 0.5; }", timeout=30_000)

    # -- the teacher adds a reading; AI lesson content from it streams to everyone -------------
    await teacher.click("#tab-lesson")
    await teacher.click("#material summary")
    await teacher.set_input_files("#material-file", files=[{
        "name": "photosynthesis.pdf", "mimeType": "application/pdf",
        "buffer": markdown_pdf(READING, title="Photosynthesis")}])
    await teacher.click("#material-add")
    await teacher.locator("#material-list li:has-text('photosynthesis')").wait_for(timeout=15_000)
    await teacher.fill("#content-prompt", "Explain how plants make food from light")
    await teacher.fill("#content-topic", "photosynthesis")
    await teacher.click("#content-request")
    status = teacher.locator("#content-status[data-generation-id]:not([data-generation-id=''])")
    await status.wait_for(timeout=10_000)
    gid = await status.get_attribute("data-generation-id")
    for student in (mina, jae, seoyeon):
        await student.locator(f"#panel-content [data-generation-id='{gid}'][data-state='done']"
                              ).wait_for(timeout=30_000)
    text = await mina.locator(f"[data-generation-id='{gid}'] .content-body").inner_text()
    assert "chlorophyll" in text.lower() and "[p" in text  # taught from the reading, cited
    assert "photosynthesis.pdf" in await mina.locator(
        f"[data-generation-id='{gid}'] .content-sources").inner_text() or "Photosynthesis" in text
    await assert_accessible(teacher, "teacher console, AI lesson tab")
    await screenshot(teacher, "teacher-lesson-desktop")

    # -- a question with a countdown and the live distribution ---------------------------------
    await teacher.click("#tab-question")
    await teacher.fill("#q-text", "What do plants take in to make food?")
    for i, choice in enumerate(["Oxygen", "Carbon dioxide", "Salt"]):
        await teacher.locator(".q-choice").nth(i).fill(choice)
    await teacher.locator(".q-correct").nth(1).check()
    await teacher.select_option("#q-limit", "120")
    # The teacher's own hints, one per line: these are what "send hint" sends.
    await teacher.fill("#q-hints-input", "Think about what we breathe out.\n\nIt is not oxygen.")
    await teacher.click("#q-ask")
    for student in (mina, jae, seoyeon):
        await student.locator("#question[data-state='open'] .choice[data-index='2']").wait_for(
            timeout=10_000)
    left = int(await jae.locator("#question-countdown").get_attribute("data-left"))
    assert 100 < left <= 120
    assert "남음" in await seoyeon.locator("#question-countdown").inner_text()
    await assert_accessible(jae, "student page (phone), question open")
    await assert_fits_phone(jae, "student page (phone), question open")
    # On the phone a bar at the top leads to the open question.
    await jae.click("#now-jump")
    await jae.wait_for_function("document.activeElement && document.activeElement.id === 'now'")
    await screenshot(jae, "student-question-phone")
    await mina.click("#question .choice[data-index='1']")
    await jae.click("#question .choice[data-index='0']")
    await mina.locator("#receipt[data-answer-id]").wait_for(timeout=10_000)
    assert "Carbon dioxide" in await mina.locator("#receipt").inner_text()
    await teacher.locator("#q-answered[data-n='2'][data-of='3']").wait_for(timeout=10_000)
    assert "2 of 3 answered" in await teacher.locator("#q-answered").inner_text()
    await teacher.locator("#question-live .bar[data-index='0'][data-count='1']").wait_for()
    await teacher.locator("#question-live .bar[data-index='1'][data-count='1']").wait_for()
    missing = teacher.locator("#q-missing")
    await missing.locator("summary").click()
    assert "서연" in await missing.inner_text()
    await teacher.locator(".roster-row:has-text('Mina')[data-answered='right']").wait_for(
        timeout=10_000)
    await teacher.locator(".roster-row:has-text('Jae')[data-answered='wrong']").wait_for()
    assert "2 of 3 answered" in await teacher.locator("#roster-summary").inner_text()
    await assert_accessible(teacher, "teacher console, question open")
    await screenshot(teacher, "teacher-question-desktop")
    await teacher.set_viewport_size(PHONE)
    await teacher.locator("#roster .roster-row .badge-video").first.wait_for()
    await teacher.wait_for_timeout(300)
    assert await teacher.evaluate(ROSTER_BADGES_CUT) == [], "roster badges cut off at 390 px"
    await teacher.set_viewport_size(DESKTOP)
    await on_phone(teacher, "teacher-question-phone", "teacher console (phone)")

    # -- a student reloads mid-question and sees the open question -----------------------------
    question_id = await seoyeon.locator("#question").get_attribute("data-question-id")
    await seoyeon.reload()
    await wait_connected(seoyeon)
    reloaded = seoyeon.locator(f"#question[data-state='open'][data-question-id='{question_id}']")
    await reloaded.wait_for(timeout=10_000)
    assert "plants take in" in await reloaded.inner_text()
    await seoyeon.locator(f"#panel-content [data-generation-id='{gid}']").wait_for()

    # -- the teacher's hint to the student who got it wrong -------------------------------------
    jae_row = teacher.locator(".roster-row:has-text('Jae')")
    jae_id = await jae_row.get_attribute("data-user")
    await teacher.click(f".roster-actions[data-user='{jae_id}']")
    await assert_accessible(teacher, "teacher console, a student's actions")
    await screenshot(teacher, "teacher-actions-desktop")
    # The hint box left empty: the question's first prepared hint, the one the teacher wrote.
    prepared = teacher.locator("#q-hints li")
    assert [t.strip() for t in await prepared.locator("span").all_inner_texts()] == [
        "Think about what we breathe out.", "It is not oxygen."]
    await teacher.click("#act-hint-send")
    await teacher.locator("#actions-status:text('Hint sent')").wait_for(timeout=10_000)
    await teacher.click("#act-close")
    hint = jae.locator(".hint-card .hint-text")
    await hint.wait_for(timeout=10_000)
    assert await hint.inner_text() == "Think about what we breathe out."
    await assert_accessible(jae, "student page (phone), hint card")

    # -- results: close, percentages, reveal to each student -----------------------------------
    await seoyeon.click("#question .choice[data-index='1']")
    await teacher.locator("#q-answered[data-n='3']").wait_for(timeout=10_000)
    await teacher.click("#q-close")
    await teacher.locator("#question-live[data-status='closed'] .bar-correct[data-index='1']"
                          ).wait_for(timeout=10_000)
    assert "67" in await teacher.locator("#question-live .bar[data-index='1']").inner_text()
    await teacher.click("#q-reveal")
    await mina.locator("#result[data-correct='true']").wait_for(timeout=10_000)
    wrong = jae.locator("#result[data-correct='false']")
    await wrong.wait_for(timeout=10_000)
    assert "Carbon dioxide" in await wrong.inner_text()
    assert "chose" not in await wrong.inner_text()  # the page's sentence, not the server's
    await seoyeon.locator("#result[data-correct='true']:has-text('정답입니다')").wait_for(
        timeout=10_000)
    korean_result = await seoyeon.locator("#result").inner_text()
    assert "Correct" not in korean_result and "'" not in korean_result, korean_result
    await assert_accessible(mina, "student page, result shown")
    await screenshot(mina, "student-result-desktop")
    await assert_accessible(seoyeon, "student page (Korean), result shown")
    await screenshot(seoyeon, "student-korean-desktop")

    # -- a poll with live bars -------------------------------------------------------------------
    await teacher.click("#tab-poll")
    await teacher.fill("#poll-question", "How sure are you now?")
    await teacher.fill("#poll-options", "Very sure\nA bit\nNot yet")
    await teacher.click("#poll-start")
    for i, student in enumerate((mina, jae, seoyeon)):
        await student.locator(f"#poll .vote[data-option='{i}']").click(timeout=10_000)
    await teacher.locator("#poll-card[data-total='3']").wait_for(timeout=10_000)
    await jae.locator("#poll .bars .bar[data-count='1']").first.wait_for(timeout=10_000)
    await assert_accessible(teacher, "teacher console, poll")
    await screenshot(teacher, "teacher-poll-desktop")
    await assert_accessible(jae, "student page (phone), poll")
    await screenshot(jae, "student-poll-phone")
    await teacher.click("#poll-close")
    await mina.locator("#poll[data-state='closed']").wait_for(timeout=10_000)

    # -- the board: students may draw; a note by keyboard ---------------------------------------
    await teacher.click("#tab-board")
    await teacher.check("#board-permit")
    await mina.locator("#board[data-can-draw='true']").wait_for(timeout=10_000)
    await assert_accessible(mina, "student page, board (may draw)")
    await mina.fill("#board-note-text", "Leaves need light")
    await mina.press("#board-note-text", "Enter")
    await teacher.locator("#board-notes li:has-text('Leaves need light')").wait_for(timeout=10_000)
    await teacher.fill("#board-note-text", "CO2 + water -> sugar")
    await teacher.click("#board-add-note")
    await seoyeon.locator("#board-notes li:has-text('CO2 + water')").wait_for(timeout=10_000)
    assert await teacher.locator("#board-svg .board-note").count() == 2
    await assert_accessible(teacher, "teacher console, board")
    await screenshot(teacher, "teacher-board-desktop")

    # -- help: a raised hand, "on it", resolved ---------------------------------------------------
    await jae.click("#hand")
    await jae.locator("#help-state[data-state='waiting']").wait_for(timeout=10_000)
    await assert_accessible(jae, "student page (phone), hand raised")
    item = teacher.locator(f"#help-queue li[data-user='{jae_id}']")
    await item.wait_for(timeout=10_000)
    await assert_accessible(teacher, "teacher console, help queue")
    await teacher.locator(f".roster-row[data-user='{jae_id}'][data-hand='true']").wait_for()
    await item.locator(".help-on-it").click()
    await jae.locator("#help-state[data-state='on_it']").wait_for(timeout=10_000)
    await assert_accessible(jae, "student page (phone), teacher on it")
    await item.locator(".help-resolve").click()
    await jae.locator("#help-state[data-state='resolved']").wait_for(timeout=10_000)
    await teacher.locator("#help-empty").wait_for(timeout=10_000)

    # -- a message to the teacher and the reply ---------------------------------------------------
    await mina.fill("#ask-text", "Do plants breathe at night?")
    await mina.click("#ask-send")
    inbox_item = teacher.locator("#inbox li:has-text('Do plants breathe at night?')")
    await inbox_item.wait_for(timeout=10_000)
    await assert_accessible(teacher, "teacher console, inbox with a message")
    await inbox_item.locator(".reply-text").fill("Yes — they respire all the time.")
    await inbox_item.locator(".reply-one").click()
    reply = mina.locator("#messages .message.mine .thread .reply")
    await reply.wait_for(timeout=10_000)
    assert "respire all the time" in await reply.inner_text()
    await assert_accessible(mina, "student page, message with the teacher's reply")
    assert await jae.locator("#messages .reply").count() == 0  # a reply to Mina only

    # -- a breakout group gets its own question ---------------------------------------------------
    await teacher.click("#tab-groups")
    await teacher.fill("#group-new-name", "g1")
    await teacher.click("#group-create")
    group = teacher.locator("[data-group='g1']")
    for name in ("Mina", "서연"):
        await group.locator("select").select_option(label=name)
        await group.locator("button:text('Add')").click()
        await teacher.locator(f"[data-group='g1'] .chip:has-text('{name}')").wait_for(
            timeout=10_000)
    await assert_accessible(teacher, "teacher console, groups")
    await screenshot(teacher, "teacher-groups-desktop")
    await teacher.locator("[data-ask-group='g1']").click()
    assert await teacher.locator("#q-audience").input_value() == "g1"
    await teacher.fill("#q-text", "Group g1: name one product of photosynthesis")
    await teacher.check("#q-kind-free")
    await teacher.fill("#q-reference", "oxygen")
    await teacher.click("#q-ask")
    for student in (mina, seoyeon):
        await student.locator("#question[data-state='open'] #question-text:has-text('Group g1')"
                              ).wait_for(timeout=10_000)
    await assert_accessible(seoyeon, "student page (Korean), group free-text question")
    await mina.fill("#answer-text", "oxygen")
    await mina.click("#answer-send")
    await mina.locator("#receipt").wait_for(timeout=10_000)
    await asyncio.sleep(0.5)
    assert "Group g1" not in await jae.locator("#question").inner_text()
    await teacher.locator("#q-answered[data-n='1'][data-of='2']").wait_for(timeout=10_000)
    await teacher.click("#q-close")
    await teacher.locator("#q-eval-groups [data-group='right']").wait_for(timeout=10_000)
    await teacher.click("#tab-groups")
    await teacher.click("#groups-back")
    await teacher.locator("#groups-status:text('Everyone is back')").wait_for(timeout=10_000)

    # -- the server is killed and started again: reconnecting, then connected --------------------
    server.kill()
    await teacher.wait_for_function("document.body.dataset.connection === 'reconnecting'",
                                    timeout=5_000)
    words = await teacher.locator("#conn").inner_text()
    assert "reconnecting" in words.lower() and "1006" not in words
    await assert_accessible(teacher, "teacher console, reconnecting")
    await screenshot(teacher, "teacher-reconnecting-desktop")
    await jae.wait_for_function("document.body.dataset.connection === 'reconnecting'",
                                timeout=5_000)
    server.start()
    for page in (teacher, mina, jae, seoyeon):
        await page.wait_for_function(CONNECTED, timeout=40_000)
    assert "1006" not in await jae.locator("#conn").inner_text()
    # The stream goes on: a message after the restart reaches the students.
    await teacher.fill("#say-text", "Welcome back, everyone!")
    await teacher.click("#say-send")
    for student in (mina, jae):
        await student.locator("#messages .message:has-text('Welcome back')").wait_for(
            timeout=15_000)
    await teacher.locator("#panel-roster[data-online='3']").wait_for(state="attached",
                                                                      timeout=20_000)

    # -- the admin dashboard ----------------------------------------------------------------------
    admin, admin_errors = await page_in(browser)
    await admin.goto(f"{base}/admin")
    await assert_accessible(admin, "admin sign-in")
    await admin.fill("#admin-credential", SECRET)
    await admin.press("#admin-credential", "Enter")
    await admin.wait_for_function("document.body.dataset.loaded === 'true'", timeout=15_000)
    # The process killed above stays among the workers until its status expires (8 s).
    await admin.wait_for_function(
        "document.querySelectorAll('#admin-workers tbody tr').length === 1", timeout=30_000)
    workers = admin.locator("#admin-workers")
    assert await workers.locator("caption").inner_text() != ""
    assert await workers.locator("thead th").count() == 7
    assert "Science" in await workers.locator("tbody tr").inner_text()
    assert await admin.locator("#fact-workers").inner_text() == "1"
    assert await admin.locator("#fact-ai-tokens").count() == 1
    assert await admin.locator("#fact-ai-cost").count() == 0  # no price configured
    assert await admin.locator("#fact-students").inner_text() == "3"
    assert "Science" in await admin.locator("#admin-sessions").inner_text()
    await assert_accessible(admin, "admin dashboard")
    await screenshot(admin, "admin-desktop")
    await on_phone(admin, "admin-phone", "admin dashboard (phone)")

    # -- a student who joins late sees the lesson so far (from the PDF, cited) -------------------
    hana, hana_errors = await page_in(browser, viewport=PHONE, mobile=True)
    await join(hana, base, code, "Hana")
    late = hana.locator(f"#panel-content [data-generation-id='{gid}'][data-state='done']")
    await late.wait_for(timeout=15_000)
    late_text = await late.locator(".content-body").inner_text()
    assert "chlorophyll" in late_text.lower() and "[p" in late_text
    # The teacher's page published its camera again after the restart: it plays here too.
    await hana.wait_for_function(
        "() => { const v = document.querySelector('#media-video');"
        " return v && v.videoWidth > 0 && v.currentTime > 0.5; }", timeout=30_000)
    await assert_fits_phone(hana, "student page (phone), joined late")
    await assert_accessible(hana, "student page (phone), joined late")
    await screenshot(hana, "student-late-join-phone")

    # -- a bad link says so and what to do ---------------------------------------------------------
    await jae.goto(f"{base}/student.html?token=not-a-token")
    problem = jae.locator("#problem")
    await problem.wait_for(timeout=10_000)
    assert "does not work" in await problem.inner_text()
    await assert_accessible(jae, "student page, bad link")
    await screenshot(jae, "bad-link-phone")

    for errors in (teacher_errors, mina_errors, seoyeon_errors, admin_errors, hana_errors):
        # The kill shows up as failed requests and WebSocket errors while it is down.
        real = [e for e in errors.errors if "WebSocket" not in e and "Failed to load" not in e
                and "ERR_CONNECTION_REFUSED" not in e and "net::" not in e]
        assert real == [], real
    del jae_errors  # the phone page opened a bad link on purpose
