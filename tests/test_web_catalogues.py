"""The pages' strings: one catalogue per language, the same keys in each, and every key
the code asks for present (a missing key would show its name to a person)."""

from __future__ import annotations

import re
from pathlib import Path

WEB = Path(__file__).resolve().parent.parent / "web"
KEY = re.compile(r'^\s*"([a-z_0-9.]+)":|,\s*"([a-z_0-9.]+)":', re.M)


def keys(lang: str) -> set[str]:
    text = (WEB / "i18n" / f"{lang}.js").read_text(encoding="utf-8")
    return {a or b for a, b in KEY.findall(text)}


def test_catalogues_have_the_same_keys():
    en, ko = keys("en"), keys("ko")
    assert len(en) > 300
    assert en - ko == set(), f"missing in ko.js: {sorted(en - ko)}"
    assert ko - en == set(), f"missing in en.js: {sorted(ko - en)}"


def test_every_key_the_pages_use_is_in_the_catalogue():
    en = keys("en")
    used: set[str] = set()
    prefixes: set[str] = set()
    for path in [*WEB.glob("*.js"), *WEB.glob("panels/*.js")]:
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'\bt\("([a-z_0-9.]+)"', source))
        used |= set(re.findall(r'\?\s*"([a-z]+\.[a-z_0-9.]+)"\s*:', source))
        used |= {m for m in re.findall(r':\s*"([a-z]+\.[a-z_0-9.]+)"\)', source)}
        prefixes |= set(re.findall(r"\bt\(`([a-z_.]+)\.\$\{", source))
    missing = sorted(k for k in used if k not in en)
    assert missing == [], f"keys used but not in en.js: {missing}"
    for prefix in prefixes:
        assert any(k.startswith(prefix + ".") for k in en), f"no key under {prefix}."
    # The states, devices and rungs the server sends each have words.
    for state in ("online", "offline", "reconnecting"):
        assert f"roster.state.{state}" in en
    for rung in ("auto", "high", "medium", "low"):
        assert f"rung.{rung}" in en
    for device in ("browser", "app", "bot"):
        assert f"device.{device}" in en
