"""The teacher's material of each class: kept with the session, published or not.

:class:`MemoryMaterialStore` is the embedded default; :class:`RedisMaterialStore`
shares the material between server processes (one hash per session:
material id → ``{"published": bool, "material": Material.as_dict()}``), expiring
with the session. Every generation grounds in all of a class's material;
students see (list, read) only what the teacher published.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from rtc_server.base.protocol import dumps
from rtc_server.material.material import Material
from rtc_server.state.store import SESSION_TTL_S
from rtc_server.state.unavailable import redis_errors_as_unavailable

__all__ = ["MaterialStore", "MemoryMaterialStore", "RedisMaterialStore", "StoredMaterial"]

#: Materials one class may hold (each is limited in bytes and pages when added).
MAX_MATERIALS_PER_SESSION = 20


@dataclass(frozen=True, slots=True)
class StoredMaterial:
    material: Material
    published: bool

    def info(self) -> dict[str, Any]:
        return {**self.material.info(), "published": self.published}

    def to_json(self) -> str:
        return dumps({"published": self.published, "material": self.material.as_dict()})

    @classmethod
    def from_json(cls, raw: str) -> StoredMaterial:
        data = json.loads(raw)
        return cls(Material.from_dict(data["material"]), bool(data["published"]))


class MaterialStore(ABC):
    @abstractmethod
    async def put(self, session_id: str, item: StoredMaterial) -> None: ...

    @abstractmethod
    async def get(self, session_id: str, material_id: str) -> StoredMaterial | None: ...

    @abstractmethod
    async def all(self, session_id: str) -> list[StoredMaterial]:
        """The class's material in the order it was added."""

    @abstractmethod
    async def delete(self, session_id: str, material_id: str) -> bool: ...

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the store holds."""


class MemoryMaterialStore(MaterialStore):
    def __init__(self) -> None:
        self._items: dict[str, dict[str, StoredMaterial]] = {}

    async def put(self, session_id: str, item: StoredMaterial) -> None:
        self._items.setdefault(session_id, {})[item.material.id] = item

    async def get(self, session_id: str, material_id: str) -> StoredMaterial | None:
        return self._items.get(session_id, {}).get(material_id)

    async def all(self, session_id: str) -> list[StoredMaterial]:
        items = self._items.get(session_id, {}).values()
        return sorted(items, key=lambda i: i.material.created_at)

    async def delete(self, session_id: str, material_id: str) -> bool:
        return self._items.get(session_id, {}).pop(material_id, None) is not None


@redis_errors_as_unavailable
class RedisMaterialStore(MaterialStore):
    def __init__(self, client: Redis, *, key_prefix: str = "crtc:",
                 ttl_s: int = SESSION_TTL_S) -> None:
        self._redis = client  # shared, owned by the Storage (decode_responses=True)
        self._prefix = key_prefix
        self._ttl_s = ttl_s

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}material:{{{session_id}}}"

    async def put(self, session_id: str, item: StoredMaterial) -> None:
        key = self._key(session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, item.material.id, item.to_json())
            pipe.expire(key, self._ttl_s)
            await pipe.execute()

    async def get(self, session_id: str, material_id: str) -> StoredMaterial | None:
        raw = await self._redis.hget(self._key(session_id), material_id)
        return StoredMaterial.from_json(str(raw)) if raw is not None else None

    async def all(self, session_id: str) -> list[StoredMaterial]:
        raw = await self._redis.hgetall(self._key(session_id))
        items = [StoredMaterial.from_json(str(v)) for v in raw.values()]
        return sorted(items, key=lambda i: i.material.created_at)

    async def delete(self, session_id: str, material_id: str) -> bool:
        return bool(await self._redis.hdel(self._key(session_id), material_id))
