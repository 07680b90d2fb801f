"""The one configuration object, and the one place that reads flags and environment.

Every option can be given as a CLI flag (``--ice-host-addresses``) or as an
environment variable (``CLASSROOM_ICE_HOST_ADDRESSES``); a flag wins over the
environment, which wins over the default. Units are in the field names.
"""

from __future__ import annotations

import argparse
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

ENV_PREFIX = "CLASSROOM_"
MIN_SECRET_CHARS = 32


@dataclass(frozen=True, kw_only=True)
class IceServer:
    """A STUN or TURN server handed to both the server's and the clients' ICE agents."""

    urls: str
    username: str | None = None
    credential: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"urls": self.urls}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out


def parse_ice_server(text: str) -> IceServer:
    """Parse ``stun:host:port`` or ``turn:user:pass@host:port[?transport=udp]``."""
    scheme, _, rest = text.partition(":")
    if scheme not in ("stun", "turn", "turns") or not rest:
        raise ValueError(f"ICE server {text!r} must start with stun:, turn: or turns:")
    if "@" in rest:
        creds, _, hostpart = rest.rpartition("@")
        user, _, password = creds.partition(":")
        return IceServer(urls=f"{scheme}:{hostpart}", username=user, credential=password)
    return IceServer(urls=text)


@dataclass(frozen=True, kw_only=True)
class Config:
    """Server configuration.

    Fields (flag / environment variable):
    """

    # Network
    host: str = field(default="127.0.0.1", metadata={"help": "address the HTTP server binds"})
    port: int = field(default=8080, metadata={"help": "port the HTTP server binds"})
    public_url: str | None = field(
        default=None,
        metadata={"help": "base URL printed in links (default http://HOST:PORT)"},
    )
    # ICE
    ice_host_addresses: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "comma-separated local addresses to gather host candidates on; "
            "empty = every non-loopback interface (aioice's default). "
            "Use 127.0.0.1 for loopback-only operation",
        },
    )
    ice_servers: tuple[IceServer, ...] = field(
        default=(),
        metadata={"help": "comma-separated STUN/TURN servers, e.g. stun:stun.example.org:3478,"
                  "turn:user:pass@turn.example.org:3478"},
    )
    ice_advertise_address: str | None = field(
        default=None,
        metadata={"help": "address written into the server's host candidates instead of the "
                  "bound one (1:1 NAT, as in a cloud VM with a public IP)"},
    )
    # Security
    api_secret: str = field(
        default="",
        metadata={"help": "secret for the token-minting API and for signing join tokens "
                  "(random per start when empty; set it when several processes share a class)"},
    )
    token_ttl_s: int = field(default=6 * 3600, metadata={"help": "default join-token lifetime"})
    dev: bool = field(
        default=False,
        metadata={"help": "development mode: open token minting at /dev/join and print demo links"},
    )
    open_classes: bool = field(
        default=False,
        metadata={"help": "anyone may create a class on the start page and students join with "
                          "its code and a name (a trusted network; on in --dev). Otherwise "
                          "classes are created with the API secret"},
    )
    material_max_bytes: int = field(
        default=10 * 1024 * 1024, metadata={"help": "largest material file a teacher may add"}
    )
    material_max_pages: int = field(
        default=300, metadata={"help": "most pages of a material PDF"}
    )
    peer_connect_timeout_s: float = field(
        default=30.0, metadata={"help": "a peer connection that has not connected by then is "
                                        "closed (its sockets released; the client may offer "
                                        "again)"}
    )
    allowed_origins: tuple[str, ...] = field(
        default=(), metadata={"help": "browser origins (besides the server's own) allowed to "
                                      "open the WebSocket, e.g. https://school.example; * for any"}
    )
    join_concurrency: int = field(
        default=32, metadata={"help": "joins handled at once; more wait their turn"}
    )
    join_queue_max: int = field(
        default=2000, metadata={"help": "joins that may wait; beyond, 503 with retry_after_ms"}
    )
    peer_setup_concurrency: int = field(
        default=8, metadata={"help": "WebRTC offers answered at once (DTLS/ICE set-up is the "
                                     "costly part of a join); more wait their turn"}
    )
    shutdown_timeout_s: float = field(
        default=5.0, metadata={"help": "how long a shutdown (SIGTERM, SIGINT) may take in "
                                       "all: clients told 1001, peers closed, state flushed; "
                                       "then the process exits anyway"}
    )
    # State
    redis_url: str | None = field(
        default=None, metadata={"help": "Redis URL for shared state and fan-out (none = in memory)"}
    )
    redis_key_prefix: str = field(
        default="crtc:", metadata={"help": "prefix of every Redis key (several deployments "
                                   "can share one Redis)"}
    )
    redis_max_connections: int = field(
        default=200, metadata={"help": "connections in this process's Redis pool (callers wait "
                               "for a free one rather than fail)"}
    )
    redis_pool_timeout_s: float = field(
        default=10.0, metadata={"help": "how long a Redis call waits for a free pool connection"}
    )
    event_log_max: int = field(
        default=10_000, metadata={"help": "events kept per session for replay"}
    )
    # Limits
    max_message_bytes: int = field(
        default=64 * 1024, metadata={"help": "largest client message accepted"}
    )
    rate_messages_per_s: float = field(
        default=20.0, metadata={"help": "sustained client messages per second per user (all of "
                                "their connections and transports, pings included)"}
    )
    rate_burst: int = field(default=40, metadata={"help": "client message burst allowance "
                                                  "per user"})
    student_log_per_s: float = field(
        default=2.0, metadata={"help": "messages per second a student may add to the session "
                                       "log (answers, votes, board ops, messages, ...)"}
    )
    student_log_burst: int = field(
        default=60, metadata={"help": "burst of those (so one student cannot flush the others' "
                                      "replay window)"}
    )
    rate_violations_before_close: int = field(
        default=200,
        metadata={"help": "rejected messages in a row before a flooding connection is closed"},
    )
    send_queue_max: int = field(
        default=4096, metadata={"help": "events buffered per connection before it is dropped"}
    )
    # AI content
    content_provider: str = field(
        default="auto",
        metadata={"help": "'local' (embedded lesson composer), 'openai' (any OpenAI-compatible "
                  "endpoint: OpenAI, Ollama, vLLM, llama.cpp), 'azure', or 'auto' (openai when an "
                  "API key or base URL is set, else local)"},
    )
    openai_base_url: str | None = field(
        default=None, metadata={"help": "OpenAI-compatible base URL, e.g. "
                                "http://127.0.0.1:11434/v1 for Ollama (env OPENAI_BASE_URL too)"}
    )
    openai_api_key: str = field(
        default="", metadata={"help": "API key for the endpoint (env OPENAI_API_KEY too)"}
    )
    openai_model: str = field(default="gpt-4o-mini", metadata={"help": "chat model name"})
    openai_image_model: str = field(default="gpt-image-1", metadata={"help": "image model name"})
    openai_embeddings_model: str = field(
        default="", metadata={"help": "embeddings model of the endpoint, e.g. "
                              "text-embedding-3-small or nomic-embed-text; set, it ranks the "
                              "passages of a class's material for each request (BM25 when "
                              "empty or when the call fails) (env OPENAI_EMBEDDINGS_MODEL too)"}
    )
    openai_timeout_s: float = field(
        default=30.0, metadata={"help": "longest wait for any bytes from the endpoint"}
    )
    openai_max_retries: int = field(
        default=2, metadata={"help": "retries before the first token (never after it)"}
    )
    azure_endpoint: str | None = field(default=None, metadata={"help": "Azure OpenAI endpoint"})
    azure_api_version: str | None = field(
        default=None, metadata={"help": "Azure OpenAI API version"}
    )
    ai_price_input_per_1k_tokens: float = field(
        default=0.0, metadata={"help": "what the endpoint charges per 1,000 prompt tokens, for "
                               "the admin page's cost estimate (0 = not set: tokens only; "
                               "set only one of the two prices and it is used for both)"}
    )
    ai_price_output_per_1k_tokens: float = field(
        default=0.0, metadata={"help": "what the endpoint charges per 1,000 completion tokens "
                               "(0 = not set)"}
    )
    ai_price_currency: str = field(
        default="USD", metadata={"help": "the currency of the two prices (shown with the cost)"}
    )
    local_tokens_per_s: float = field(
        default=40.0, metadata={"help": "pace of the local composer (0 = as fast as possible)"}
    )
    content_max_concurrent: int = field(
        default=8, metadata={"help": "generations running at once (fair across sessions)"}
    )
    content_chunk_max_delay_ms: float = field(
        default=40.0,
        metadata={"help": "latency budget for coalescing tokens into a chunk (0 = a chunk per "
                  "token); a sentence boundary flushes earlier"},
    )
    content_max_prompt_chars: int = field(
        default=4000, metadata={"help": "longest prompt or text accepted in a content request"}
    )
    content_cache_dir: str | None = field(
        default=None, metadata={"help": "directory for the on-disk content cache layer"}
    )
    content_cache_ttl_s: int = field(
        default=3600, metadata={"help": "lifetime of cached content in Redis"}
    )
    # Media
    media_initial_rung: str = field(
        default="medium", metadata={"help": "rung a new viewer starts on: high, medium or low"}
    )
    media_forwarder: bool = field(
        default=True,
        metadata={"help": "send ladder video/audio with the lean forwarding sender (payloads "
                  "cut once per rung, header templates, in-place SRTP); off: aiortc's "
                  "RTCRtpSender per viewer"},
    )
    media_gso: bool = field(
        default=True,
        metadata={"help": "with the forwarder, send a frame's packets to a viewer in one "
                  "system call (Linux UDP GSO) where the kernel allows it"},
    )
    adaptive_quality: bool = field(
        default=True,
        metadata={"help": "choose each viewer's rung from its measured bandwidth (RTCP, REMB, "
                  "pings); off: rungs change only by hand"},
    )
    synthetic_source: str = field(
        default="",
        metadata={"help": "publish a synthetic test pattern and tone into the dev demo class, "
                  "e.g. 1280x720@30 (for demos without a camera)"},
    )
    load_shedding: bool = field(
        default=True,
        metadata={"help": "measure CPU and event-loop lag and shed load in steps (cap video, "
                  "pause visuals, pause expensive AI)"},
    )
    sctp_tuning: bool = field(
        default=True,
        metadata={"help": "trim aiortc's per-message data-channel overhead (see "
                  "rtc_server/patches/sctp.py; only on the aiortc/aioice versions it was "
                  "written for)"},
    )
    # Runtime
    workers: int = field(
        default=1,
        metadata={"help": "server processes sharing the HTTP port (SO_REUSEPORT; each has its "
                  "own ICE UDP ports, /healthz and /metrics); a supervisor restarts one that "
                  "dies. More than 1 needs shared state: --redis-url, else a private "
                  "redis-server is started if one is installed"},
    )
    worker_id: str = field(
        default="",
        metadata={"help": "set by the supervisor for each worker it starts (shown in logs, "
                  "/healthz, /metrics and the welcome); leave unset"},
    )
    worker_status_ttl_s: float = field(
        default=15.0,
        metadata={"help": "how long this process's status (classes, connections, load, AI "
                  "tokens) stays in the shared state for the admin page of every process "
                  "after its last renewal (renewed every 5 s; a stopped process leaves it)"},
    )
    node_name: str = field(
        default="",
        metadata={"help": "this process's name among the deployment's processes (the media "
                  "relay's node, shown to teachers); default <worker id or host>:<pid>"},
    )
    worker_socket_fd: int = field(
        default=-1,
        metadata={"help": "set by the supervisor: a socket to it, on which a worker reports "
                  "'ready' once it serves and whose closing (the supervisor is gone) stops "
                  "the worker; leave unset"},
    )
    uvloop: bool = field(default=True, metadata={"help": "run on uvloop"})
    log_level: str = field(default="info", metadata={"help": "debug, info, warning or error"})
    web_root: str | None = field(
        default=None, metadata={"help": "directory of the browser client (default: bundled web/)"}
    )

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def shutdown_clients_s(self) -> float:
        """The share of ``shutdown_timeout_s`` for telling clients 1001 and closing peers."""
        return self.shutdown_timeout_s * 0.5

    @property
    def shutdown_handlers_s(self) -> float:
        """The share aiohttp then waits for request handlers to return (it cancels the rest).

        With these two, the features' and the storage's cleanup and a last cancellation
        of stragglers, a shutdown fits in ``shutdown_timeout_s`` (rtc_server.__main__)."""
        return self.shutdown_timeout_s * 0.2

    @property
    def ai_prices_per_1k(self) -> tuple[float, float] | None:
        """(input, output) price per 1,000 tokens, or None when neither is set; one set
        price stands for both."""
        given = self.ai_price_input_per_1k_tokens, self.ai_price_output_per_1k_tokens
        if not any(given):
            return None
        return (given[0] or given[1], given[1] or given[0])

    @property
    def is_worker(self) -> bool:
        """A worker started by the supervisor (``--workers`` > 1): binds with SO_REUSEPORT."""
        return bool(self.worker_id)

    def with_secret(self) -> Config:
        """Return a copy with a random API secret if none was configured."""
        if self.api_secret:
            if len(self.api_secret) < MIN_SECRET_CHARS:
                # HS256 keys shorter than the hash are weak (RFC 7518 section 3.2).
                raise ValueError(f"api_secret must be at least {MIN_SECRET_CHARS} characters")
            return self
        return _replace(self, api_secret=secrets.token_urlsafe(32))


def _replace(cfg: Config, **changes: Any) -> Config:
    values = {f.name: getattr(cfg, f.name) for f in fields(cfg)}
    values.update(changes)
    return Config(**values)


_CONVENTIONAL_ENV = {
    "redis_url": "REDIS_URL",
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
    "openai_embeddings_model": "OPENAI_EMBEDDINGS_MODEL",
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _convert(name: str, raw: str) -> Any:
    default = getattr(Config(), name)
    if name == "ice_servers":
        return tuple(parse_ice_server(p.strip()) for p in raw.split(",") if p.strip())
    if name == "ice_host_addresses":
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name}: expected true/false, got {raw!r}")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rtc_server",
        description="classroom-rtc: WebRTC media and data-channel server for live classrooms. "
        f"Every option can also be set as an environment variable {ENV_PREFIX}<OPTION> "
        f"(e.g. {ENV_PREFIX}PORT=9000); flags win over the environment.",
    )
    for f in fields(Config):
        default = getattr(Config(), f.name)
        env = ENV_PREFIX + f.name.upper()
        shown = "(hidden)" if "key" in f.name or "secret" in f.name else repr(default)
        help_text = f"{f.metadata.get('help', '')} [env {env}; default {shown}]"
        if isinstance(default, bool):
            parser.add_argument(
                _flag(f.name), dest=f.name, action=argparse.BooleanOptionalAction,
                default=None, help=help_text,
            )
        else:
            parser.add_argument(_flag(f.name), dest=f.name, default=None, help=help_text)
    parser.add_argument(
        "--demo-session", default="demo",
        help="in dev mode, the session created at start and linked in the printed URLs",
    )
    return parser


def load_config(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> tuple[Config, argparse.Namespace]:
    """Resolve flags, then environment, then defaults, into one :class:`Config`."""
    environ = os.environ if environ is None else environ
    ns = build_parser().parse_args(argv)
    values: dict[str, Any] = {}
    for f in fields(Config):
        flag_value = getattr(ns, f.name)
        env_value = environ.get(ENV_PREFIX + f.name.upper())
        if isinstance(flag_value, bool):
            values[f.name] = flag_value
        elif flag_value is not None:
            values[f.name] = _convert(f.name, flag_value)
        elif env_value is not None and env_value != "":
            values[f.name] = _convert(f.name, env_value)
        elif f.name in _CONVENTIONAL_ENV and environ.get(_CONVENTIONAL_ENV[f.name]):
            # The conventional variables, as hosting platforms and SDKs set them.
            values[f.name] = _convert(f.name, environ[_CONVENTIONAL_ENV[f.name]])
    config = Config(**values)
    if config.workers < 1:
        raise ValueError(f"workers must be at least 1, not {config.workers}")
    return config, ns
