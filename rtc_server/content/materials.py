"""The teacher's material of a class: add, list, publish, remove, and ground generations in it.

Rules: staff add, publish and remove material; every generation of the class
grounds in all of it (published or not), but names only the published
material: what a generation writes and its events go to the class, which must
not learn the titles of what the teacher keeps to themselves (staff match the
``material_id`` of an untitled source against their list); students and
observers list and read only what the teacher published. Each change is told to the teachers (all
material) and to the class (the published list) with a ``materials`` event.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from typing import Any

from rtc_server.base.access import require_staff
from rtc_server.base.exceptions import InvalidRequest
from rtc_server.base.identity import Identity
from rtc_server.base.protocol import Audience
from rtc_server.core.classroom import Classroom
from rtc_server.material.extract import extract_material, material_from_text
from rtc_server.material.material import Material, MaterialKind

from . import events as ev
from .material_store import MAX_MATERIALS_PER_SESSION, MaterialStore, StoredMaterial

__all__ = ["ClassMaterials", "MaterialNotFound"]

logger = logging.getLogger(__name__)


class MaterialNotFound(InvalidRequest):
    code = "material_not_found"
    http_status = 404


class ClassMaterials:
    def __init__(self, classroom: Classroom, store: MaterialStore, *, max_bytes: int,
                 max_pages: int) -> None:
        self.classroom = classroom
        self.store = store
        self.max_bytes = max_bytes
        self.max_pages = max_pages

    async def add_file(self, who: Identity, data: bytes, *, filename: str, content_type: str,
                       title: str = "", publish: bool = False) -> dict[str, Any]:
        """An uploaded file (PDF, text, Markdown); raises a MaterialError saying why not."""
        await self._may_add(who)
        material = extract_material(data, filename=filename, content_type=content_type,
                                    title=title, material_id=_new_id(),
                                    max_bytes=self.max_bytes, max_pages=self.max_pages)
        return await self._store(who, material, publish)

    async def add_text(self, who: Identity, text: str, *, kind: MaterialKind = "text",
                       title: str = "", publish: bool = False) -> dict[str, Any]:
        """Pasted text or Markdown."""
        await self._may_add(who)
        if kind not in ("text", "markdown"):
            raise InvalidRequest("pasted material is 'text' or 'markdown'")
        material = material_from_text(text, kind=kind, title=title, material_id=_new_id(),
                                      max_bytes=self.max_bytes)
        return await self._store(who, material, publish)

    async def _may_add(self, who: Identity) -> None:
        require_staff(who, "add material")
        await self.classroom.require_active(who.session_id)
        if len(await self.store.all(who.session_id)) >= MAX_MATERIALS_PER_SESSION:
            raise InvalidRequest(f"a class holds at most {MAX_MATERIALS_PER_SESSION} "
                                 "materials; remove one first")

    async def _store(self, who: Identity, material: Material, publish: bool) -> dict[str, Any]:
        item = StoredMaterial(material, publish)
        await self.store.put(who.session_id, item)
        logger.info("Session(%s) material %s added (%s, %d chars) by %s", who.session_id,
                    material.id, material.kind, len(material.text), who.user_id)
        await self._announce(who.session_id)
        return item.info()

    async def listing(self, who: Identity) -> list[dict[str, Any]]:
        items = await self.store.all(who.session_id)
        return [i.info() for i in items if who.is_staff or i.published]

    async def read(self, who: Identity, material_id: str) -> dict[str, Any]:
        item = await self.store.get(who.session_id, material_id)
        if item is None or not (who.is_staff or item.published):
            raise MaterialNotFound(f"no material {material_id!r} in this class")
        return {**item.info(), "text": item.material.text}

    async def update(self, who: Identity, material_id: str, *, published: bool | None,
                     title: str | None) -> dict[str, Any]:
        require_staff(who, "change material")
        item = await self.store.get(who.session_id, material_id)
        if item is None:
            raise MaterialNotFound(f"no material {material_id!r} in this class")
        material = item.material
        if title is not None:
            material = Material(id=material.id, title=title, kind=material.kind,
                                text=material.text, pages=material.pages, size=material.size,
                                created_at=material.created_at, language=material.language)
        item = StoredMaterial(material, item.published if published is None else published)
        await self.store.put(who.session_id, item)
        await self._announce(who.session_id)
        return item.info()

    async def remove(self, who: Identity, material_id: str) -> None:
        require_staff(who, "remove material")
        if not await self.store.delete(who.session_id, material_id):
            raise MaterialNotFound(f"no material {material_id!r} in this class")
        await self._announce(who.session_id)

    async def for_generation(self, session_id: str) -> list[Material]:
        """All of the class's material, in the order it was added; unpublished material
        without its title (see the module's rules)."""
        return [i.material if i.published else dataclasses.replace(i.material, title="")
                for i in await self.store.all(session_id)]

    async def _announce(self, session_id: str) -> None:
        items = await self.store.all(session_id)
        await self.classroom.publish(session_id, Audience.teachers(), ev.MATERIALS,
                                     {"materials": [i.info() for i in items]})
        await self.classroom.publish(session_id, Audience.session(), ev.MATERIALS,
                                     {"materials": [i.info() for i in items if i.published],
                                      "published_only": True})


def _new_id() -> str:
    return f"mat-{secrets.token_hex(5)}"

