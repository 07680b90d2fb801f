"""The load test's results: added up from every bot process, as JSON and as a table.

Definitions (what each figure means):

- **joins**: a join is ok once the welcome arrived (and, for WebRTC students, events
  flow on the data channel); its time runs from the first attempt, so waits the
  server asked for (``retry_after``) are included. ``waits`` counts those requests.
- **lost**: for every student that had joined when the broadcasts began, broadcasts
  numbered 1..N it never received (N = what the teacher sent; a send the server
  refused counts as lost for everyone). **duplicated**: a broadcast number delivered
  to the application twice (the client already drops transport duplicates by seq).
- **delivery latency**: teacher send time (stamped in the broadcast) to the student's
  callback, same clock (teacher and bots run on this machine). Content chunks: the
  server's publish stamp to the student.
- **video**: per video student, frames and bytes (video + audio) received in the
  measurement window; the rung is the size of the last keyframe received. Glass to
  glass: the synthetic source's burned-in capture time to a sampled keyframe's arrival.
- **server**: per worker, CPU cores used over the window (CPU seconds / seconds, from
  ``/metrics``) and resident memory at the end; **load test**: the same for this
  tool's own processes (the teacher, which also encodes the published video, and each
  bot process): if they are near a full core, the tool is the bottleneck.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .stats import Histogram, percentile, rung_name

if TYPE_CHECKING:
    from .options import LoadTestOptions
    from .teacher import SyntheticTeacher

__all__ = ["Report"]


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class Report:
    data: dict[str, Any]

    @classmethod
    def build(cls, options: LoadTestOptions, finals: list[dict[str, Any]], *,
              teacher: SyntheticTeacher, server: dict[str, Any], server_available: bool,
              window_s: float, loadtest_cores: dict[str, float],
              missing_processes: int) -> Report:
        students = [s for f in finals for s in f["students"]]
        hist = {k: Histogram() for k in ("events", "chunks", "glass")}
        for final in finals:
            for key, h in hist.items():
                h.merge(Histogram.from_json(final["latency"][key]))
        joined = [s for s in students if s["joined"] or s["join_ms"] is not None]
        join_times = [s["join_ms"] for s in joined if s["join_ms"] is not None]
        counting = [s for s in students if s["counting"]]
        sent = teacher.sent
        data: dict[str, Any] = {
            "students": options.students,
            "processes": options.processes,
            "duration_s": options.duration_s,
            "window_s": round(window_s, 1),
            "joins": {
                "ok": len(joined),
                "failed": options.students - len(joined),  # a lost bot process's too
                "errors": dict(Counter(s["error"] for s in students if s["error"])),
                "waits": sum(s["waits"] for s in students),
                "p50_ms": _round(percentile(join_times, 50)),
                "p99_ms": _round(percentile(join_times, 99)),
                "max_ms": _round(max(join_times, default=None)),
                "by_worker": dict(sorted(Counter(s["worker"] for s in joined).items())),
                "webrtc": sum(1 for s in joined if s["datachannel"]),
                "websocket_only": sum(1 for s in joined if not s["datachannel"]),
            },
            "events": {
                "broadcasts_sent": sent,
                "send_failures": teacher.send_failures,
                "rate_asked_per_s": options.rate_per_s,
                "rate_achieved_per_s": round(teacher.achieved_rate, 2),
                "receivers": len(counting),
                "lost": sum(max(0, sent - s["received"]) for s in counting),
                "students_with_loss": sum(1 for s in counting if s["received"] < sent),
                # Of those, students still connected at the end (a student that dropped
                # and could not resume misses the rest: that is not the server losing).
                "lost_by_connected": sum(max(0, sent - s["received"]) for s in counting
                                         if s["connected_at_end"]),
                "disconnected_at_end": sum(1 for s in counting if not s["connected_at_end"]),
                "duplicated": sum(s["duplicates"] for s in students),
                "latency_ms": hist["events"].summary(),
            },
            "reconnects": sum(s["reconnects"] for s in students),
            # Connections the server closed (by close code) and why resumes failed.
            "drops": dict(Counter(code for s in students for code in s["drops"])),
            "resume_errors": dict(Counter(code for s in students for code in s["resume_errors"])),
            "server": {"available": server_available, "workers": server},
            "loadtest_cpu_cores": loadtest_cores,
            "missing_bot_processes": missing_processes,
        }
        if options.content:
            content = {k: v for k, v in teacher.content.items() if k != "requested_at"}
            data["content"] = {**content, "chunk_latency_ms": hist["chunks"].summary(),
                               "chunks_per_student_p50": percentile(
                                   [s["chunks"] for s in counting], 50)}
        video = [s for s in joined if s["video"]]
        if video:
            data["video"] = cls._video(video, hist["glass"])
        return cls(data)

    @staticmethod
    def _video(video: list[dict[str, Any]], glass: Histogram) -> dict[str, Any]:
        figures = [s["media"] for s in video if s["media"]]
        by_rung: dict[str, list[dict[str, Any]]] = {}
        for media in figures:
            by_rung.setdefault(rung_name(media["frame_size"]), []).append(media)
        return {
            "students": len(video),
            "receiving": sum(1 for m in figures if m["fps"] > 0),
            "rungs": {rung: len(ms) for rung, ms in sorted(by_rung.items())},
            "fps_by_rung": {
                rung: {"p50": _round(percentile([m["fps"] for m in ms], 50)),
                       "min": _round(min(m["fps"] for m in ms))}
                for rung, ms in sorted(by_rung.items())},
            "kbps_per_student": {
                "p50": _round(percentile([m["bps"] / 1000 for m in figures], 50)),
                "min": _round(min((m["bps"] / 1000 for m in figures), default=None))},
            "max_freeze_s": _round(max((m["max_gap_s"] or 0 for m in figures), default=None),
                                   2),
            "quality_switches": sum(s["switches"] for s in video),
            "announced_rungs": dict(Counter(s["rung_announced"] or "initial" for s in video)),
            "glass_to_glass_ms": glass.summary(),
        }

    def to_json(self) -> str:
        return json.dumps(self.data, indent=2, sort_keys=False)

    def table(self) -> str:
        d = self.data
        j, e = d["joins"], d["events"]
        lat = e["latency_ms"]
        rows = [
            ("students", f"{d['students']} in {d['processes']} bot process(es); "
                         f"{j['webrtc']} WebRTC, {j['websocket_only']} WebSocket only"),
            ("joins ok / failed", f"{j['ok']} / {j['failed']}"
                                  + (f"  {j['errors']}" if j["errors"] else "")),
            ("join time p50 / p99 / max", f"{j['p50_ms']} / {j['p99_ms']} / {j['max_ms']} ms"),
            ("server asked to wait", f"{j['waits']} join(s)"),
            ("students per worker", ", ".join(f"w{k}: {v}" for k, v in j["by_worker"].items())),
            ("broadcasts sent", f"{e['broadcasts_sent']} ({e['rate_achieved_per_s']}/s of "
                                f"{e['rate_asked_per_s']}/s asked; {e['send_failures']} refused)"),
            ("events lost / duplicated", f"{e['lost']} / {e['duplicated']} "
                                         f"({e['students_with_loss']} students with loss)"),
            ("lost by students connected at the end",
             f"{e['lost_by_connected']} ({e['disconnected_at_end']} students disconnected "
             "at the end)"),
            ("delivery p50 / p99 / max", f"{lat['p50_ms']} / {lat['p99_ms']} / "
                                         f"{lat['max_ms']} ms ({lat['samples']} deliveries)"),
            ("reconnects", str(d["reconnects"])
             + (f"  drops by close code {d['drops']}" if d["drops"] else "")
             + (f"  failed resumes {d['resume_errors']}" if d["resume_errors"] else "")),
        ]
        if d["missing_bot_processes"]:
            rows.append(("BOT PROCESSES LOST", f"{d['missing_bot_processes']} (their students "
                                               "count as failed; see the traceback above)"))
        if "content" in d:
            c = d["content"]
            cl = c["chunk_latency_ms"]
            rows.append(("content", f"{c.get('finished') or 'not finished'} after "
                                    f"{c.get('seconds', '?')} s, {c.get('chunks')} chunks"))
            rows.append(("chunk delivery p50 / p99 / max",
                         f"{cl['p50_ms']} / {cl['p99_ms']} / {cl['max_ms']} ms"))
        if "video" in d:
            v = d["video"]
            rows.append(("video students receiving", f"{v['receiving']} / {v['students']}"))
            rows.append(("rung distribution", ", ".join(f"{k}: {n}"
                                                        for k, n in v["rungs"].items())))
            for rung, fps in v["fps_by_rung"].items():
                rows.append((f"fps {rung} p50 / min", f"{fps['p50']} / {fps['min']}"))
            rows.append(("kbps per student p50 / min",
                         f"{v['kbps_per_student']['p50']} / {v['kbps_per_student']['min']}"))
            rows.append(("longest freeze", f"{v['max_freeze_s']} s"))
            rows.append(("quality switches", str(v["quality_switches"])))
            g = v["glass_to_glass_ms"]
            rows.append(("glass to glass p50 / max", f"{g['p50_ms']} / {g['max_ms']} ms "
                                                    f"({g['samples']} samples)"))
        server = d["server"]
        if not server["available"]:
            rows.append(("server CPU / RSS", "not exposed by this server's /metrics"))
        for worker, w in server["workers"].items():
            rows.append((f"server w{worker} (pid {w['pid']})",
                         f"{w['cpu_cores']} cores, {w['rss_mb']} MB"))
        rows.append(("load test CPU (cores)", ", ".join(
            f"{k} {v}" for k, v in d["loadtest_cpu_cores"].items())))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
