"""Layered content cache: in-process LRU, then Redis (TTL), then disk.

``get`` asks the layers top-down and copies a hit into every layer above
it; ``put`` writes to all layers.  Callers see one :class:`ContentCache`
whichever layers are configured.  Keys are derived from the normalised
request (:func:`cache_key`) so that trivially different spellings of the
same request share an entry.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import re
import tempfile
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = [
    "CacheEntry",
    "CacheLayer",
    "ContentCache",
    "DiskLayer",
    "MemoryLayer",
    "RedisLayer",
    "cache_key",
    "normalise",
]

logger = logging.getLogger(__name__)

_SPACE = re.compile(r"\s+")


def normalise(value: Any) -> Any:
    """Lowercases and collapses whitespace in strings, recursively; sorts mappings."""
    if isinstance(value, str):
        return _SPACE.sub(" ", value).strip().lower()
    if isinstance(value, Mapping):
        return {str(k): normalise(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    return value


def cache_key(kind: str, fields: Mapping[str, Any]) -> str:
    """``<kind>:<sha256 of the normalised, key-sorted fields>``."""
    canonical = json.dumps(normalise(fields), sort_keys=True, separators=(",", ":"))
    return f"{kind}:{hashlib.sha256(canonical.encode()).hexdigest()}"


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """Cached text and/or binary payload (image bytes, SVG) plus metadata."""

    text: str = ""
    data: bytes | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "text": self.text,
                "data": base64.b64encode(self.data).decode() if self.data is not None else None,
                "metadata": self.metadata,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> CacheEntry:
        obj = json.loads(raw)
        data = obj.get("data")
        return cls(
            text=obj.get("text", ""),
            data=base64.b64decode(data) if data is not None else None,
            metadata=dict(obj.get("metadata") or {}),
        )


class CacheLayer(Protocol):
    name: str

    async def get(self, key: str) -> CacheEntry | None: ...

    async def put(self, key: str, entry: CacheEntry) -> None: ...


class MemoryLayer:
    """Bounded LRU in this process."""

    name = "memory"

    def __init__(self, max_entries: int = 256) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    async def get(self, key: str) -> CacheEntry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    async def put(self, key: str, entry: CacheEntry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class RedisLayer:
    """Shared between server processes; entries expire after ``ttl_s``.

    Redis errors are logged and treated as misses: the cache must never
    stop a lesson from being generated.
    """

    name = "redis"

    def __init__(self, client: Redis, *, prefix: str = "classroom:content:", ttl_s: int = 3600):
        self._client = client
        self.prefix = prefix
        self.ttl_s = ttl_s

    async def get(self, key: str) -> CacheEntry | None:
        try:
            raw = await self._client.get(self.prefix + key)
        except RedisError as exc:
            logger.warning("RedisLayer(%s) get failed: %s", self.prefix, exc)
            return None
        return CacheEntry.from_json(raw) if raw is not None else None

    async def put(self, key: str, entry: CacheEntry) -> None:
        try:
            await self._client.set(self.prefix + key, entry.to_json(), ex=self.ttl_s)
        except RedisError as exc:
            logger.warning("RedisLayer(%s) put failed: %s", self.prefix, exc)


class DiskLayer:
    """One JSON file per key under ``directory`` (written atomically)."""

    name = "disk"

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        kind, _, digest = key.partition(":")
        return self.directory / kind / f"{digest or kind}.json"

    def _read(self, path: Path) -> CacheEntry | None:
        try:
            return CacheEntry.from_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.warning("DiskLayer(%s) unreadable entry %s: %s", self.directory, path, exc)
            return None

    def _write(self, path: Path, payload: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(payload)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> CacheEntry | None:
        return await asyncio.to_thread(self._read, self._path(key))

    async def put(self, key: str, entry: CacheEntry) -> None:
        try:
            await asyncio.to_thread(self._write, self._path(key), entry.to_json())
        except OSError as exc:
            logger.warning("DiskLayer(%s) put failed: %s", self.directory, exc)


class ContentCache:
    """Reads top-down, back-fills upper layers on a lower-layer hit."""

    def __init__(self, layers: list[CacheLayer]) -> None:
        self.layers = list(layers)
        self.hits: dict[str, int] = {layer.name: 0 for layer in self.layers}
        self.misses = 0

    @classmethod
    def build(
        cls,
        *,
        memory_entries: int = 256,
        redis: Redis | None = None,
        redis_prefix: str = "classroom:content:",
        redis_ttl_s: int = 3600,
        directory: str | os.PathLike[str] | None = None,
    ) -> ContentCache:
        layers: list[CacheLayer] = [MemoryLayer(memory_entries)]
        if redis is not None:
            layers.append(RedisLayer(redis, prefix=redis_prefix, ttl_s=redis_ttl_s))
        if directory is not None:
            layers.append(DiskLayer(directory))
        return cls(layers)

    async def get(self, key: str) -> CacheEntry | None:
        for depth, layer in enumerate(self.layers):
            entry = await layer.get(key)
            if entry is None:
                continue
            self.hits[layer.name] = self.hits.get(layer.name, 0) + 1
            for upper in self.layers[:depth]:
                await upper.put(key, entry)
            return entry
        self.misses += 1
        return None

    async def put(self, key: str, entry: CacheEntry) -> None:
        for layer in self.layers:
            await layer.put(key, entry)
