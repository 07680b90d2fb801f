"""An LRU of built :class:`MaterialIndex` es, so material is analysed once.

Keyed by the materials' ids, digests and titles: the same material list
gives the same index object back; a changed, renamed, added or removed
material (or one whose title is hidden or shown as it is unpublished or
published) builds anew.
Building runs in a worker thread (a 20-page PDF takes tens of milliseconds,
which should not stall the event loop that streams to students).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence

from .index import MaterialIndex
from .material import Material

__all__ = ["MaterialIndexCache"]


class MaterialIndexCache:
    def __init__(self, *, max_entries: int = 64) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.max_entries = max_entries
        self.builds = 0
        self._entries: OrderedDict[tuple[tuple[str, str, str], ...], MaterialIndex] = (
            OrderedDict())

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def key(materials: Sequence[Material]) -> tuple[tuple[str, str, str], ...]:
        return tuple((m.id, m.digest, m.title) for m in materials)

    def get(self, materials: Sequence[Material]) -> MaterialIndex | None:
        key = self.key(materials)
        index = self._entries.get(key)
        if index is not None:
            self._entries.move_to_end(key)
        return index

    def put(self, materials: Sequence[Material], index: MaterialIndex) -> None:
        key = self.key(materials)
        self._entries[key] = index
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def build(self, materials: Sequence[Material]) -> MaterialIndex:
        """The cached index, or a new one built here (synchronously)."""
        index = self.get(materials)
        if index is None:
            index = MaterialIndex(materials)
            self.builds += 1
            self.put(materials, index)
        return index

    async def index(self, materials: Sequence[Material]) -> MaterialIndex:
        """The cached index, or a new one built in a worker thread."""
        index = self.get(materials)
        if index is None:
            index = await asyncio.to_thread(MaterialIndex, tuple(materials))
            self.builds += 1
            self.put(materials, index)
        return index
