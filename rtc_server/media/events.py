"""Stream event types of the media feature (payloads: docs/protocol.md, "Media").

============== ============================ ===============================================
type           audience                     when
============== ============================ ===============================================
media.state    session                      what is published (video, audio, screen share,
                                            offered rungs, sources) changed
media.quality  the viewer, and the teacher  a viewer's rung changed (by the adaptive
               group                        controller, the teacher, a pin, or load)
============== ============================ ===============================================
"""

from __future__ import annotations

from rtc_server.base.protocol import EventCatalogue, EventType

MEDIA_STATE = EventType("media.state", "session", "what is published changed")
MEDIA_QUALITY = EventType("media.quality", "user + group teacher", "a viewer's rung changed")

MEDIA_EVENTS = EventCatalogue("media", (MEDIA_STATE, MEDIA_QUALITY))
