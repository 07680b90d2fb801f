"""ContentCache: LRU, disk and real Redis layers, back-filling and key normalisation."""


from __future__ import annotations

import pytest

from rtc_server.content import CacheEntry, ContentCache, DiskLayer, MemoryLayer, RedisLayer
from rtc_server.content.cache import cache_key

# Fixture import until tests/conftest.py imports tests.support.conftest_content; then delete.


def test_cache_key_normalises_case_whitespace_and_order() -> None:
    a = cache_key("lesson", {"topic": "Photo  Synthesis ", "grade": "7"})
    b = cache_key("lesson", {"grade": "7", "topic": "photo synthesis"})
    c = cache_key("lesson", {"grade": "8", "topic": "photo synthesis"})
    assert a == b != c
    assert a.startswith("lesson:") and len(a.split(":")[1]) == 64
    assert cache_key("plan", {"grade": "7", "topic": "photo synthesis"}) != a


async def test_memory_layer_evicts_least_recently_used() -> None:
    layer = MemoryLayer(max_entries=2)
    await layer.put("a", CacheEntry(text="A"))
    await layer.put("b", CacheEntry(text="B"))
    assert await layer.get("a") is not None  # "a" is now most recent
    await layer.put("c", CacheEntry(text="C"))
    assert "b" not in layer
    assert "a" in layer and "c" in layer
    assert len(layer) == 2


async def test_disk_layer_round_trips_text_bytes_and_metadata(tmp_path) -> None:
    entry = CacheEntry(text="hello", data=b"\x89PNG\x00", metadata={"mime": "image/png"})
    await DiskLayer(tmp_path).put("visual:abc", entry)
    # A new layer object on the same directory (a restarted process) reads it.
    got = await DiskLayer(tmp_path).get("visual:abc")
    assert got == entry
    assert (tmp_path / "visual" / "abc.json").exists()
    assert await DiskLayer(tmp_path).get("visual:missing") is None


async def test_disk_hit_fills_memory_layer(tmp_path) -> None:
    key = cache_key("lesson", {"topic": "fractions"})
    await DiskLayer(tmp_path).put(key, CacheEntry(text="from disk"))
    cache = ContentCache.build(memory_entries=8, directory=tmp_path)
    memory = cache.layers[0]
    assert isinstance(memory, MemoryLayer)
    assert key not in memory
    got = await cache.get(key)
    assert got is not None and got.text == "from disk"
    assert key in memory
    assert cache.hits == {"memory": 0, "disk": 1}
    await cache.get(key)
    assert cache.hits == {"memory": 1, "disk": 1}


async def test_miss_is_counted(tmp_path) -> None:
    cache = ContentCache.build(directory=tmp_path)
    assert await cache.get("lesson:nothing") is None
    assert cache.misses == 1


@pytest.mark.redis
async def test_redis_entry_visible_to_second_process(content_redis, tmp_path) -> None:
    client, prefix = content_redis
    first = ContentCache.build(redis=client, redis_prefix=prefix, redis_ttl_s=60)
    second = ContentCache.build(redis=client, redis_prefix=prefix, redis_ttl_s=60)
    key = cache_key("lesson", {"topic": "volcanoes"})
    await first.put(key, CacheEntry(text="lava", metadata={"usage": {"prompt_tokens": 3}}))
    got = await second.get(key)
    assert got is not None and got.text == "lava"
    assert got.metadata == {"usage": {"prompt_tokens": 3}}
    assert second.hits["redis"] == 1
    ttl = await client.ttl(prefix + key)
    assert 0 < ttl <= 60


@pytest.mark.redis
async def test_disk_hit_fills_redis_and_memory(content_redis, tmp_path) -> None:
    client, prefix = content_redis
    key = cache_key("plan", {"topic": "rivers"})
    await DiskLayer(tmp_path).put(key, CacheEntry(text="plan text"))
    cache = ContentCache.build(redis=client, redis_prefix=prefix, directory=tmp_path)
    assert await client.get(prefix + key) is None
    assert (await cache.get(key)).text == "plan text"
    assert await client.get(prefix + key) is not None
    assert key in cache.layers[0]
    # A different process without the disk layer now finds it in Redis.
    other = ContentCache([RedisLayer(client, prefix=prefix)])
    assert (await other.get(key)).text == "plan text"


@pytest.mark.redis
async def test_redis_hit_fills_memory_but_not_below(content_redis, tmp_path) -> None:
    client, prefix = content_redis
    key = cache_key("lesson", {"topic": "tides"})
    await RedisLayer(client, prefix=prefix).put(key, CacheEntry(text="moon"))
    cache = ContentCache.build(redis=client, redis_prefix=prefix, directory=tmp_path)
    assert (await cache.get(key)).text == "moon"
    assert key in cache.layers[0]
    assert await DiskLayer(tmp_path).get(key) is None
