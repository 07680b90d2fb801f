"""Every HTTP error has the documented shape ``{"error": {"code", "message"}}`` (issue 13, items
1, 9 and 10): aiohttp's own (404, 405, 413, malformed requests refused before the app), WHIP's,
and bad bodies, headers and credentials — and none of them leaves a traceback in the log."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import aiohttp
import pytest
from aiohttp import web

from signaling.http_errors import errors_middleware, json_response, setup
from tests.support.server import SECRET, Harness

API = {"Authorization": f"Bearer {SECRET}"}


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture):
    """Fails the test if anything logged a traceback (or at ERROR)."""
    caplog.set_level(logging.INFO)
    yield caplog
    bad = [r for r in caplog.records
           if r.exc_info or r.levelno >= logging.ERROR or "Traceback" in r.getMessage()]
    assert not bad, [f"{r.name}: {r.getMessage()[:200]}" for r in bad]


async def _json_error(resp: aiohttp.ClientResponse) -> dict:
    assert resp.content_type == "application/json", await resp.text()
    body = await resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return body["error"]


async def _raw(server: Harness, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (no client library would send these) and read the answer."""
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(10):
            data = await reader.read()  # the server closes after an error
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


# -- aiohttp's own errors -----------------------------------------------------------------------

async def test_unknown_route_is_404_json(server: Harness, no_tracebacks) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/api/nope", "/nope.html", "/../pyproject.toml", "/%2e%2e/pyproject.toml"):
            async with http.get(f"{server.url}{path}") as resp:
                assert resp.status == 404, path
                assert (await _json_error(resp))["code"] == "not_found"
        async with http.get(f"{server.url}/student.html") as resp:  # pages are still served
            assert resp.status == 200 and resp.content_type == "text/html"


async def test_wrong_method_is_405_json_with_allow(server: Harness, no_tracebacks) -> None:
    async with aiohttp.ClientSession() as http, \
            http.delete(f"{server.url}/api/tokens", headers=API) as resp:
        assert resp.status == 405
        assert (await _json_error(resp))["code"] == "method_not_allowed"
        assert "POST" in resp.headers["Allow"]


async def test_body_over_the_api_limit_is_413_json(server: Harness, no_tracebacks) -> None:
    body = json.dumps({"subject": "x" * 300_000, "session_id": "big", "teacher_id": "t"})
    async with aiohttp.ClientSession() as http, \
            http.post(f"{server.url}/api/sessions", data=body, headers=API) as resp:
        assert resp.status == 413
        assert (await _json_error(resp))["code"] == "message_too_large"


async def test_whip_body_over_the_limit_is_413_json(server: Harness, no_tracebacks) -> None:
    headers = API | {"Content-Type": "application/sdp"}
    async with aiohttp.ClientSession() as http, \
            http.post(f"{server.url}/whip/s1", data="v=0\r\n" + "a=x\r\n" * 60_000,
                      headers=headers) as resp:
        assert resp.status == 413
        assert (await _json_error(resp))["code"] == "message_too_large"
        assert resp.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("request_bytes", [
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n",
    b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"THIS IS NOT HTTP\r\n\r\n",
    b"POST /api/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
], ids=["header-too-long", "request-line-too-long", "bad-request-line", "bad-length"])
async def test_requests_refused_before_the_app_get_json_and_no_traceback(
        server: Harness, request_bytes: bytes, no_tracebacks) -> None:
    status, headers, body = await _raw(server, request_bytes)
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert error["code"] == "bad_request" and error["message"]
    # The server is fine: the next connection is served.
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/healthz") as resp:
        assert resp.status == 200


# -- bodies, headers, credentials ------------------------------------------------------------

async def test_deeply_nested_body_a_student_is_refused_first_a_teacher_gets_422(
        server: Harness, no_tracebacks) -> None:
    deep = '{"ai_context": {"x": ' + "[" * 5000 + "]" * 5000 + "}}"
    async with aiohttp.ClientSession() as http:
        student = {"Authorization": f"Bearer {server.token('stu')}"}
        async with http.post(f"{server.url}/api/sessions", data=deep, headers=student) as resp:
            assert resp.status == 403
            assert (await _json_error(resp))["code"] == "forbidden"
        teacher = {"Authorization": f"Bearer {server.token('teacher', 'teacher')}"}
        async with http.post(f"{server.url}/api/sessions", data=deep, headers=teacher) as resp:
            assert resp.status == 422
            error = await _json_error(resp)
            assert error["code"] == "malformed_json" and "nested" in error["message"]
        body = '{"ai_context": {"x": ' + "[" * 40 + "]" * 40 + "}}"
        async with http.post(f"{server.url}/api/sessions", data=body, headers=teacher) as resp:
            error = await _json_error(resp)
            assert (resp.status, error["code"]) == (422, "invalid_body")
            assert "more than 32 levels" in error["message"]


@pytest.mark.parametrize("body,field", [
    ('{"text": "x", "data": {"v": NaN}}', "'data.v'"),
    ('{"text": "x", "data": {"v": 1e400}}', "'data.v'"),
    ('{"text": "\\ud800"}', "'text'"),
    ('{"text": "x", "data": {"n": 123456789012345678901234567890}}', "'data.n'"),
])
async def test_bad_numbers_and_text_in_a_body_are_422_naming_the_field(
        server: Harness, body: str, field: str, no_tracebacks) -> None:
    teacher = await server.client("teacher", "teacher", webrtc=False)
    async with aiohttp.ClientSession() as http, \
            http.post(f"{server.url}/api/sessions/s1/events", data=body, headers=API) as resp:
        error = await _json_error(resp)
        assert (resp.status, error["code"]) == (422, "invalid_body")
        assert field in error["message"]
    await teacher.request({"type": "ping"})
    assert teacher.close_code is None


async def test_events_body_is_limited_to_max_message_bytes(server: Harness, no_tracebacks) -> None:
    limit = server.classroom.config.max_message_bytes
    async with aiohttp.ClientSession() as http:
        body = {"text": "x", "data": {"blob": "y" * (70_000 - 100)}}
        async with http.post(f"{server.url}/api/sessions/s1/events", json=body,
                             headers=API) as resp:
            assert resp.status == 413
            error = await _json_error(resp)
            assert error["code"] == "message_too_large" and str(limit) in error["message"]
        body = {"text": "x", "data": {"blob": "y" * (limit - 200)}}
        async with http.post(f"{server.url}/api/sessions/s1/events", json=body,
                             headers=API) as resp:
            assert resp.status == 202


async def test_a_credential_that_is_not_utf8_is_401_not_a_crash(
        server: Harness, no_tracebacks) -> None:
    status, _, body = await _raw(server, b"GET /api/sessions/s1 HTTP/1.1\r\nHost: x\r\n"
                                         b"Authorization: Bearer \xff\xfe\r\n"
                                         b"Connection: close\r\n\r\n")
    assert status == 401
    assert json.loads(body)["error"]["code"] == "token_invalid"


async def test_whip_offer_that_is_not_utf8_is_400(server: Harness, no_tracebacks) -> None:
    headers = API | {"Content-Type": "application/sdp"}
    async with aiohttp.ClientSession() as http, \
            http.post(f"{server.url}/whip/s1", data=b"v=0\r\n\xff\xfe\r\n",
                      headers=headers) as resp:
        assert resp.status == 400
        assert (await _json_error(resp))["code"] == "invalid_sdp"


async def test_material_form_field_that_is_not_utf8_is_422(server: Harness, no_tracebacks) -> None:
    form = aiohttp.FormData()
    form.add_field("file", b"Photosynthesis makes sugar.", filename="notes.txt",
                   content_type="text/plain")
    form.add_field("title", io.BytesIO(b"\xff\xfe title"), content_type="text/plain")
    async with aiohttp.ClientSession() as http, \
            http.post(f"{server.url}/api/sessions/s1/materials", data=form, headers=API) as resp:
        error = await _json_error(resp)
        assert (resp.status, error["code"]) == (422, "invalid_body")
        assert "title" in error["message"]


# -- the middleware itself, with handlers defined here -----------------------------------------

async def test_middleware_turns_faults_and_plain_errors_into_json(aiohttp_client, caplog) -> None:
    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    async def plain(request: web.Request) -> web.Response:
        raise web.HTTPForbidden(text="no")

    async def nan(request: web.Request) -> web.Response:
        return json_response({"v": float("nan")})

    app = web.Application(middlewares=[errors_middleware])
    setup(app)
    app.router.add_get("/boom", boom)
    app.router.add_get("/plain", plain)
    app.router.add_get("/nan", nan)
    client = await aiohttp_client(app)
    resp = await client.get("/boom")
    assert resp.status == 500 and (await _json_error(resp))["code"] == "internal_error"
    assert "a bug" in caplog.text  # a server fault is logged with its traceback
    resp = await client.get("/plain")
    assert resp.status == 403 and (await _json_error(resp))["message"] == "no"
    resp = await client.get("/nan")  # the API never sends NaN: refused, not serialised
    assert resp.status == 422 and (await _json_error(resp))["code"] == "invalid_request"
