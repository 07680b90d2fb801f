from __future__ import annotations

import pytest

from rtc_server.ai import make_retriever
from rtc_server.config import Config, load_config


def test_flags_beat_environment_beat_defaults():
    env = {"CLASSROOM_PORT": "9001", "CLASSROOM_HOST": "0.0.0.0", "CLASSROOM_UVLOOP": "false"}
    config, _ = load_config(["--port", "9002"], env)
    assert config.port == 9002 and config.host == "0.0.0.0" and config.uvloop is False
    assert Config().port == 8080


def test_ice_settings_parse():
    config, _ = load_config([
        "--ice-host-addresses", "127.0.0.1, ::1",
        "--ice-servers", "stun:stun.example.org:3478,turn:bob:pw@turn.example.org:3478",
    ], {})
    assert config.ice_host_addresses == ("127.0.0.1", "::1")
    stun, turn = config.ice_servers
    assert stun.urls == "stun:stun.example.org:3478" and stun.username is None
    assert (turn.urls, turn.username, turn.credential) == ("turn:turn.example.org:3478", "bob",
                                                           "pw")


def test_redis_url_also_from_conventional_variable():
    config, _ = load_config([], {"REDIS_URL": "redis://x:6379/0"})
    assert config.redis_url == "redis://x:6379/0"
    config, _ = load_config([], {"REDIS_URL": "redis://x", "CLASSROOM_REDIS_URL": "redis://y"})
    assert config.redis_url == "redis://y"


def test_bad_values_are_refused_with_the_option_named():
    with pytest.raises(ValueError, match="uvloop"):
        load_config([], {"CLASSROOM_UVLOOP": "maybe"})
    with pytest.raises(ValueError, match="stun:"):
        load_config(["--ice-servers", "http://nope"], {})


def test_short_secret_is_refused_and_empty_one_is_generated():
    with pytest.raises(ValueError, match="32"):
        Config(api_secret="short").with_secret()
    assert len(Config().with_secret().api_secret) >= 32


def test_a_short_secret_stops_the_command_with_a_message_not_a_traceback(capsys):
    from rtc_server.__main__ import main

    with pytest.raises(SystemExit) as stopped:
        main(["--api-secret", "short", "--workers", "2"])
    assert str(stopped.value) == "classroom-rtc: api_secret must be at least 32 characters"


def test_help_documents_every_option(capsys):
    from dataclasses import fields

    with pytest.raises(SystemExit):
        load_config(["--help"], {})
    out = capsys.readouterr().out
    for f in fields(Config):
        assert "--" + f.name.replace("_", "-") in out
        assert "CLASSROOM_" + f.name.upper() in out


async def test_embeddings_model_from_flag_or_environment_needs_an_endpoint():
    config, _ = load_config(["--openai-embeddings-model", "nomic-embed-text"], {})
    assert config.openai_embeddings_model == "nomic-embed-text"
    assert make_retriever(config) is None  # no endpoint configured: BM25
    config, _ = load_config([], {"OPENAI_EMBEDDINGS_MODEL": "text-embedding-3-small",
                                 "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"})
    retriever = make_retriever(config)
    assert retriever is not None and retriever.name == "embeddings:text-embedding-3-small"
    await retriever.aclose()
    config, _ = load_config([], {"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"})
    assert make_retriever(config) is None  # no embeddings model: BM25
