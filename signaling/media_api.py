"""HTTP endpoints of the media ladder: state, and a viewer's rung by hand."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from rtc_server.media.messages import Rung

from .auth import authorize
from .http_api import read_body
from .http_errors import json_response
from .keys import MEDIA

routes = web.RouteTableDef()


class RungBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    rung: Rung | Literal["auto"]


@routes.get("/api/sessions/{session_id}/media")
async def media_state(request: web.Request) -> web.Response:
    """Ladders (encoders, subscribers per rung) and each viewer's rung; staff only."""
    session_id = request.match_info["session_id"]
    await authorize(request, session_id, staff=True, action="read media state")
    feature = request.app[MEDIA]
    media = feature.hub.sessions.get(session_id)
    # Which worker/machine holds the publisher, and how many viewers each one serves.
    workers = await feature.hub.workers(session_id)
    publisher = next((w["worker"] for w in workers if w["publisher"]), None)
    if media is None:
        # Nothing published here: the documented shape, empty (docs/protocol.md).
        return json_response({"video": False, "audio": False, "screen_share": False,
                              "offered": [], "sources": [], "ladders": [], "viewers": [],
                              "worker": feature.hub.node, "workers": workers,
                              "publisher_worker": publisher})
    stats = media.stats() | {"workers": workers, "publisher_worker": publisher}
    # Each viewer's measured link (estimate, round trip, loss) for the teacher's roster.
    for viewer in stats["viewers"]:
        viewer["link"] = feature.quality.status(viewer["connection"])
    return json_response(stats)


@routes.put("/api/sessions/{session_id}/media/viewers/{user}")
async def set_viewer_rung(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    who = await authorize(request, session_id, staff=True, action="set a viewer's rung")
    body = await read_body(request, RungBody)
    changed = await request.app[MEDIA].hub.set_rung(True, session_id, request.match_info["user"],
                                                body.rung, by=who.user_id)
    return json_response({"viewers": changed})
