"""Typed application keys: the objects an app owns, set up and torn down by cleanup_ctx."""

from __future__ import annotations

from aiohttp import web

from rtc_server.config import Config
from rtc_server.content import ContentFeature
from rtc_server.core.classroom import Classroom
from rtc_server.core.services import Services
from rtc_server.interactions import InteractionsFeature
from rtc_server.media import MediaFeature

CONFIG = web.AppKey("config", Config)
SERVICES = web.AppKey("services", Services)
CLASSROOM = web.AppKey("classroom", Classroom)
CONTENT = web.AppKey("content", ContentFeature)
INTERACTIONS = web.AppKey("interactions", InteractionsFeature)
MEDIA = web.AppKey("media", MediaFeature)
