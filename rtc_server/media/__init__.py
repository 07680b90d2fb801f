"""Encode-once media: a quality ladder per published track.

Wiring, in short::

    ladder = Ladder(publisher_track, "video")        # on the publisher's "track" event
    ladder.start()
    track = await ladder.subscribe("medium")          # per subscriber
    sender = add_rung_track(subscriber_pc, track)     # before createOffer/createAnswer
    track.set_rung("low")                             # switches at the next keyframe
    track.stop()                                      # or close the pc; last one stops the rung
    await ladder.stop()                               # publisher gone

See docs/benchmarks.md (section 5) for the encoder settings and figures.
"""

from .counting import BurnedInSample, CountingReceiver, add_counting_transceiver
from .encoder import AudioRungEncoder, EncodedPacket, VideoRungEncoder
from .encoding import (
    AUDIO_RUNGS,
    VIDEO_RUNGS,
    AudioRungSpec,
    VideoRungSpec,
    parse_vp8_keyframe_size,
)
from .feature import MediaFeature, build
from .ladder import Ladder
from .negotiation import add_rung_track
from .rung import Rung
from .rung_track import RungTrack
from .synthetic import SyntheticAudioTrack, SyntheticVideoTrack, read_burned_in

__all__ = [
    "AUDIO_RUNGS",
    "VIDEO_RUNGS",
    "AudioRungEncoder",
    "AudioRungSpec",
    "BurnedInSample",
    "CountingReceiver",
    "EncodedPacket",
    "Ladder",
    "MediaFeature",
    "Rung",
    "RungTrack",
    "SyntheticAudioTrack",
    "SyntheticVideoTrack",
    "VideoRungEncoder",
    "VideoRungSpec",
    "add_counting_transceiver",
    "add_rung_track",
    "build",
    "parse_vp8_keyframe_size",
    "read_burned_in",
]
