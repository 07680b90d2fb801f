"""Typed application keys: the objects an app owns, set up and torn down by cleanup_ctx."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry

from rtc_server.classroom import Classroom
from rtc_server.config import Config
from rtc_server.content.classroom_content import ClassroomContent
from rtc_server.dispatcher import Dispatcher
from rtc_server.interactions import Interactions
from rtc_server.load_monitor import LoadMonitor
from rtc_server.media.hub import MediaHub
from rtc_server.media.quality_control import QualityController

CONFIG = web.AppKey("config", Config)
CLASSROOM = web.AppKey("classroom", Classroom)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
REGISTRY = web.AppKey("registry", CollectorRegistry)
CONTENT = web.AppKey("content", ClassroomContent)
LOAD = web.AppKey("load", LoadMonitor)
INTERACTIONS = web.AppKey("interactions", Interactions)
MEDIA = web.AppKey("media", MediaHub)
QUALITY = web.AppKey("quality", QualityController)
