"""A class's material over HTTP: add (PDF, text, form), publish, read, remove; bad files get
their codes; lessons are grounded in it; a late joiner gets the lesson so far. Memory and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from signaling.client import ClassroomClient
from tests.support.material_pdfs import encrypted_pdf, fixture_text, markdown_pdf
from tests.support.redis_util import delete_prefix, require_redis, unique_prefix
from tests.support.server import Harness

WATER = fixture_text("water_cycle.md")


@pytest.fixture(params=["memory", "redis"])
async def mat_server(request, make_server: Callable[..., Awaitable[Harness]]
                     ) -> AsyncIterator[Harness]:
    overrides: dict = {"material_max_bytes": 200_000, "local_tokens_per_s": 5000}
    if request.param == "redis":
        overrides |= {"redis_url": require_redis(), "redis_key_prefix": unique_prefix()}
    harness = await make_server(**overrides)
    await harness.classroom.create_session(session_id="s1", teacher_id="teacher",
                                           subject="Science", current_topic="Water")
    yield harness
    await harness.close()
    if "redis_url" in overrides:
        await delete_prefix(overrides["redis_url"], overrides["redis_key_prefix"])


async def _http(server: Harness, method: str, path: str, token: str, *,
                headers: dict | None = None, **kwargs):
    headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    async with aiohttp.ClientSession() as http, http.request(
            method, f"{server.url}{path}", headers=headers, **kwargs) as resp:
        body = await resp.json() if resp.content_type == "application/json" else None
        return resp.status, body


async def test_teacher_adds_publishes_and_removes_material(mat_server: Harness) -> None:
    teacher_token = mat_server.token("teacher", "teacher")
    student_token = mat_server.token("ada")
    teacher = await mat_server.client("teacher", "teacher", webrtc=False)
    ada = await mat_server.client("ada", webrtc=False)

    status, pdf_info = await _http(mat_server, "POST",
                                   "/api/sessions/s1/materials?filename=water.pdf&title=Water",
                                   teacher_token, data=markdown_pdf(WATER),
                                   headers={"Content-Type": "application/pdf"})
    assert status == 201, pdf_info
    assert pdf_info["kind"] == "pdf" and pdf_info["title"] == "Water"
    assert pdf_info["pages"] >= 1 and not pdf_info["published"]
    status, notes = await _http(mat_server, "POST", "/api/sessions/s1/materials", teacher_token,
                                json={"text": "# Notes\n\nClouds form when vapour cools.",
                                      "kind": "markdown", "title": "My notes"})
    assert status == 201 and notes["kind"] == "markdown"
    form = aiohttp.FormData()
    form.add_field("file", b"Rain falls from clouds.", filename="rain.txt",
                   content_type="text/plain")
    form.add_field("publish", "1")
    status, rain = await _http(mat_server, "POST", "/api/sessions/s1/materials", teacher_token,
                               data=form)
    assert status == 201 and rain["published"] is True

    # The teacher sees everything; the class only what is published.
    listing = (await teacher.next_event("materials"))["payload"]["materials"]
    assert {m["title"] for m in listing} == {"Water"}
    status, body = await _http(mat_server, "GET", "/api/sessions/s1/materials", student_token)
    assert status == 200 and [m["id"] for m in body["materials"]] == [rain["id"]]
    status, body = await _http(mat_server, "GET", f"/api/sessions/s1/materials/{pdf_info['id']}",
                               student_token)
    assert status == 404 and body["error"]["code"] == "material_not_found"

    status, body = await _http(mat_server, "PATCH", f"/api/sessions/s1/materials/{pdf_info['id']}",
                               teacher_token, json={"published": True})
    assert status == 200 and body["published"] is True
    while True:  # the class hears the published list change
        event = (await ada.next_event("materials"))["payload"]
        if len(event["materials"]) == 2:
            break
    assert event["published_only"] is True
    status, body = await _http(mat_server, "GET", f"/api/sessions/s1/materials/{pdf_info['id']}",
                               student_token)
    assert status == 200 and "evaporat" in body["text"].lower()

    status, _ = await _http(mat_server, "DELETE", f"/api/sessions/s1/materials/{notes['id']}",
                            teacher_token)
    assert status == 204
    status, body = await _http(mat_server, "GET", "/api/sessions/s1/materials", teacher_token)
    assert {m["id"] for m in body["materials"]} == {pdf_info["id"], rain["id"]}


async def test_students_cannot_add_material(mat_server: Harness) -> None:
    status, body = await _http(mat_server, "POST", "/api/sessions/s1/materials",
                               mat_server.token("ada"), json={"text": "x"})
    assert status == 403 and body["error"]["code"] == "forbidden"


@pytest.mark.parametrize("data,content_type,filename,code,http", [
    (b"%PDF-1.4 not really", "application/pdf", "x.pdf", "material_not_pdf", 422),
    (b"\x89PNG\r\n", "image/png", "x.png", "material_unsupported", 415),
    (b"\xff\xfe\x00bad", "text/plain", "x.txt", "material_not_utf8", 422),
    (b"x" * 250_000, "text/plain", "big.txt", "material_too_large", 413),
])
async def test_bad_files_get_their_code(mat_server: Harness, data, content_type, filename,
                                        code, http) -> None:
    status, body = await _http(mat_server, "POST",
                               f"/api/sessions/s1/materials?filename={filename}",
                               mat_server.token("teacher", "teacher"), data=data,
                               headers={"Content-Type": content_type})
    assert (status, body["error"]["code"]) == (http, code), body


async def test_encrypted_pdf_is_refused(mat_server: Harness) -> None:
    status, body = await _http(mat_server, "POST", "/api/sessions/s1/materials?filename=l.pdf",
                               mat_server.token("teacher", "teacher"),
                               data=encrypted_pdf(markdown_pdf(WATER)),
                               headers={"Content-Type": "application/pdf"})
    assert status == 422 and body["error"]["code"] == "material_encrypted"


async def test_lesson_is_grounded_and_a_late_joiner_sees_it(mat_server: Harness) -> None:
    teacher_token = mat_server.token("teacher", "teacher")
    await _http(mat_server, "POST", "/api/sessions/s1/materials?filename=water.md&title=Water",
                teacher_token, data=WATER.encode(), headers={"Content-Type": "text/markdown"})
    teacher = await mat_server.client("teacher", "teacher", webrtc=False)
    early = await mat_server.client("early", webrtc=False)
    accepted = await teacher.request({"type": "content.request", "request": {
        "kind": "lesson", "prompt": "the water cycle", "topic": "the water cycle"}})
    started = await early.next_event("content.started")
    assert started["payload"]["generation_id"] == accepted["generation_id"]
    grounding = started["payload"]["grounding"]
    material_id = grounding["material"][0]["id"]
    # Unpublished: used, cited by passage, but its title never reaches the class.
    assert grounding["material"] == [{"id": material_id}] and grounding["passages"]
    done = await early.next_event("content.done", timeout=30)
    assert done["payload"]["sources"], "the lesson cites the passages it used"
    assert all(s["material_id"] == material_id and "material_title" not in s
               for s in done["payload"]["sources"])
    assert "“Water”" not in done["payload"]["text"]  # nor into the composer's text

    late = ClassroomClient(mat_server.url, mat_server.token("late"), webrtc=False)
    await late.connect()
    mat_server.clients.append(late)
    content = late.welcome["snapshot"]["content"]
    assert content["lessons"][-1]["text"] == done["payload"]["text"]
    assert content["materials"] == []  # nothing published: students see no material

    # Published, the class sees its title in the lesson's grounding and sources.
    status, _ = await _http(mat_server, "PATCH", f"/api/sessions/s1/materials/{material_id}",
                            teacher_token, json={"published": True})
    assert status == 200
    accepted = await teacher.request({"type": "content.request", "request": {
        "kind": "lesson", "prompt": "the water cycle", "topic": "the water cycle"}})
    while (started := await late.next_event("content.started"))["payload"][
            "generation_id"] != accepted["generation_id"]:
        pass
    assert started["payload"]["grounding"]["material"] == [{"id": material_id,
                                                            "title": "Water"}]
    done = await late.next_event("content.done", timeout=30)
    assert {s["material_title"] for s in done["payload"]["sources"]} == {"Water"}
    assert "“Water”" in done["payload"]["text"]  # the composer names its source


async def test_a_supplement_for_confused_students_is_grounded_in_the_material(
        mat_server: Harness) -> None:
    teacher_token = mat_server.token("teacher", "teacher")
    status, _ = await _http(mat_server, "POST",
                            "/api/sessions/s1/materials?filename=water.md&title=Water&publish=1",
                            teacher_token, data=WATER.encode(),
                            headers={"Content-Type": "text/markdown"})
    assert status == 201
    students = [await mat_server.client(f"q{i}", webrtc=False) for i in range(3)]
    await students[0].request({"type": "content.confused", "detail": "what is condensation?"})
    reply = await students[1].request({"type": "content.confused",
                                       "detail": "how do clouds form"})
    assert reply["supplement"] is True
    started = (await students[0].next_event("content.started"))["payload"]
    assert started["trigger"] == "confusion"
    grounding = started["grounding"]
    assert [m["title"] for m in grounding["material"]] == ["Water"] and grounding["passages"]
    done = (await students[0].next_event("content.done", timeout=30))["payload"]
    assert done["sources"] and "[p" in done["text"]
    assert "condensation" in done["text"].lower()  # taught from the passage that explains it
