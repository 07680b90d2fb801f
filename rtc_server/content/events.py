"""Stream event types of the content feature (payloads: docs/protocol.md, "AI lesson content").

=================== ================= ================================================
type                audience          when
=================== ================= ================================================
content.started     the request's     a generation starts (``plan`` when sectioned)
content.chunk       the request's     a coalesced piece of text
content.section     the request's     a planned section is complete
content.done        the request's     the text is complete (usage, timings)
content.stopped     the request's     the teacher stopped it, or shutdown
content.failed      the request's     the model failed (what was sent stays)
content.confusion   group teacher     a student said "I don't understand"
visual.started      the request's     a visual is being made
visual.done         the request's     the visual (image or SVG, as a data URL)
visual.failed       the request's     it failed; suggestions to use instead
materials           group teacher,    the class's material changed (staff: all of it;
                    and session       the class: ``published_only: true`` and only the
                                      published)
=================== ================= ================================================

Lifecycle events of a generation for a group or one student are mirrored to
the teacher group (``mirrored: true``) so the teacher sees and can stop them.
"""

from __future__ import annotations

from rtc_server.base.protocol import EventCatalogue, EventType

STARTED = EventType("content.started", "request", "a generation starts")
CHUNK = EventType("content.chunk", "request", "a coalesced piece of text")
SECTION = EventType("content.section", "request", "a planned section is complete")
DONE = EventType("content.done", "request", "the text is complete")
STOPPED = EventType("content.stopped", "request", "stopped by the teacher or at shutdown")
FAILED = EventType("content.failed", "request", "the model failed; what was sent stays")
CONFUSION = EventType("content.confusion", "group teacher", "a student is confused")
VISUAL_STARTED = EventType("visual.started", "request", "a visual is being made")
VISUAL_DONE = EventType("visual.done", "request", "the visual, as a data URL")
VISUAL_FAILED = EventType("visual.failed", "request", "a visual failed; suggestions")
MATERIALS = EventType("materials", "group teacher; session (published only)",
                      "the class's material changed")

CONTENT_EVENTS = EventCatalogue("content", (STARTED, CHUNK, SECTION, DONE, STOPPED, FAILED,
                                            CONFUSION, VISUAL_STARTED, VISUAL_DONE,
                                            VISUAL_FAILED, MATERIALS))

#: Lifecycle events that also go to the teacher when the audience is not the whole class.
MIRRORED_TO_TEACHER = frozenset({STARTED, DONE, STOPPED, FAILED, VISUAL_DONE, VISUAL_FAILED})
