"""HTTP endpoints of a class's material (the content feature's ``ClassMaterials``).

=============================================  ==============================================
``POST /api/sessions/{id}/materials``          staff: add material. Either a file — as the
                                               raw body with its ``Content-Type``
                                               (``application/pdf``, ``text/plain``,
                                               ``text/markdown``) and ``?filename=&title=``,
                                               or as ``multipart/form-data`` (field ``file``,
                                               optional ``title``, ``publish``) — or pasted
                                               text as JSON ``{"text", "kind": "text" |
                                               "markdown", "title"?, "publish"?}``.
                                               ``201`` with the material's listing entry.
``GET /api/sessions/{id}/materials``           the listing (students: published only)
``GET /api/sessions/{id}/materials/{mid}``     one material with its text (same rule)
``PATCH /api/sessions/{id}/materials/{mid}``   staff: ``{"published"?, "title"?}``
``DELETE /api/sessions/{id}/materials/{mid}``  staff: remove it (``204``)
=============================================  ==============================================

Files are read here with the material size limit (``--material-max-bytes``),
not the API's small JSON body limit. Bad files get a 4xx with the material
error's ``code`` (``material_not_pdf``, ``material_encrypted``, ...).
"""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import BodyPartReader, web
from pydantic import Field

from rtc_server.material.exceptions import MaterialTooLarge

from .auth import authorize
from .http_api import _Body, read_body
from .keys import CONFIG, CONTENT

__all__ = ["routes"]

routes = web.RouteTableDef()
#: An upload that has not arrived by then is dropped (a slow sender holds a socket).
UPLOAD_TIMEOUT_S = 120.0


class PastedMaterial(_Body):
    text: str = Field(min_length=1)
    kind: Literal["text", "markdown"] = "text"
    title: str = Field(default="", max_length=200)
    publish: bool = False


class MaterialPatch(_Body):
    published: bool | None = None
    title: str | None = Field(default=None, min_length=1, max_length=200)


async def _read_limited(stream: web.Request | BodyPartReader, limit: int) -> bytes:
    data = bytearray()
    async with asyncio.timeout(UPLOAD_TIMEOUT_S):
        while True:
            chunk = await (stream.content.read(65536) if isinstance(stream, web.Request)
                           else stream.read_chunk(65536))
            if not chunk:
                return bytes(data)
            data += chunk
            if len(data) > limit:
                raise MaterialTooLarge(len(data), limit)


@routes.post("/api/sessions/{session_id}/materials")
async def add_material(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    who = await authorize(request, session_id, staff=True, action="add material")
    materials = request.app[CONTENT].materials
    limit = request.app[CONFIG].material_max_bytes
    if request.content_type == "application/json":
        body = await read_body(request, PastedMaterial, max_bytes=limit + 4096)
        info = await materials.add_text(who, body.text, kind=body.kind, title=body.title,
                                        publish=body.publish)
    elif request.content_type == "multipart/form-data":
        info = await _add_multipart(request, limit)
    else:
        data = await _read_limited(request, limit)
        info = await materials.add_file(
            who, data, filename=request.query.get("filename", ""),
            content_type=request.content_type, title=request.query.get("title", "")[:200],
            publish=request.query.get("publish") in ("1", "true"))
    return web.json_response(info, status=201)


async def _add_multipart(request: web.Request, limit: int) -> dict[str, object]:
    session_id = request.match_info["session_id"]
    who = await authorize(request, session_id, staff=True, action="add material")
    reader = await request.multipart()
    fields: dict[str, str] = {}
    data, filename, content_type = b"", "", ""
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file":
            filename = part.filename or ""
            content_type = part.headers.get("Content-Type", "")
            data = await _read_limited(part, limit)
        elif part.name in ("title", "publish"):
            fields[part.name] = (await part.text())[:200]
    if not data:
        raise web.HTTPUnprocessableEntity(
            text='{"error":{"code":"invalid_body","message":"send the file in a form field '
                 'named \\"file\\""}}', content_type="application/json")
    return await request.app[CONTENT].materials.add_file(
        who, data, filename=filename, content_type=content_type,
        title=fields.get("title", ""), publish=fields.get("publish") in ("1", "true", "on"))


@routes.get("/api/sessions/{session_id}/materials")
async def list_materials(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    who = await authorize(request, session_id, staff=False, action="list material")
    return web.json_response({"materials": await request.app[CONTENT].materials.listing(who)})


@routes.get("/api/sessions/{session_id}/materials/{material_id}")
async def read_material(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    who = await authorize(request, session_id, staff=False, action="read material")
    return web.json_response(await request.app[CONTENT].materials.read(
        who, request.match_info["material_id"]))


@routes.patch("/api/sessions/{session_id}/materials/{material_id}")
async def patch_material(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    who = await authorize(request, session_id, staff=True, action="change material")
    body = await read_body(request, MaterialPatch)
    return web.json_response(await request.app[CONTENT].materials.update(
        who, request.match_info["material_id"], published=body.published, title=body.title))


@routes.delete("/api/sessions/{session_id}/materials/{material_id}")
async def delete_material(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    who = await authorize(request, session_id, staff=True, action="remove material")
    await request.app[CONTENT].materials.remove(who, request.match_info["material_id"])
    return web.Response(status=204)
