// Video, teacher side: publish the camera + microphone and a screen share over the class
// peer connection (the server encodes each quality rung once), mute the microphone, see a
// preview, and how many students watch each rung. Polls GET /api/sessions/{id}/media for
// the ladder and the viewers (their rung and link quality feed the roster).

import { el } from "/dom.js";
import { humanError, t } from "/i18n.js";

const RUNGS = ["high", "medium", "low"];
const POLL_MS = 3000;

export function mount(ctx, host) {
  const { client, model } = ctx;
  const camera = el("button", { id: "media-camera", type: "button", class: "btn btn-primary" }, t("media.start_camera"));
  const screen = el("button", { id: "media-screen", type: "button", class: "btn" }, t("media.share_screen"));
  const mic = el("button", { id: "media-mic", type: "button", class: "btn", hidden: true, "aria-pressed": "false" }, t("media.mute_mic"));
  const status = el("p", { id: "media-status", class: "form-status", role: "status" }, t("media.not_publishing"));
  const preview = el("video", { id: "media-preview", autoplay: true, playsinline: true, muted: true, "aria-label": t("media.preview_label") });
  preview.muted = true; // our own microphone must not play back
  const source = el("p", { id: "media-source", class: "muted" });
  const rungs = el("ul", { id: "media-rungs", class: "rung-counts", "aria-label": t("media.viewers_per_rung") });
  // With several workers or machines: which one holds the publisher, how many each serves.
  const workers = el("p", { id: "media-workers", class: "muted", hidden: true });
  host.dataset.panel = "media";
  host.append(el("div", { class: "card-head" }, el("h2", {}, t("media.title"))),
    el("div", { class: "video-frame" }, preview, el("span", { class: "video-caption" }, t("media.preview_caption"))),
    el("div", { class: "button-row" }, camera, screen, mic), status, source, rungs, workers);
  ctx.media = { offered: RUNGS };

  let cameraStream = null;
  let screenStream = null;
  const senders = new Map();
  const say = (text, error = false) => { status.textContent = text; status.dataset.error = String(error); };
  function describe() {
    const parts = [];
    if (cameraStream) parts.push("camera + mic");
    if (screenStream) parts.push("screen");
    host.dataset.publishing = parts.join(",");
    say(cameraStream && screenStream ? t("media.publishing_both") : cameraStream ? t("media.publishing_camera") : screenStream ? t("media.publishing_screen") : t("media.not_publishing"));
  }
  async function addTracks(stream, hint) {
    for (const track of stream.getTracks()) {
      if (track.kind === "video") track.contentHint = hint;
      // A retry on the same peer connection finds the track already added.
      const sender = client.pc.getSenders().find((x) => x.track === track) || client.pc.addTrack(track, stream);
      senders.set(track, sender);
      if (track.kind === "video") {
        // Keep the resolution the ladder encodes from; let the frame rate give way instead.
        const params = sender.getParameters();
        params.degradationPreference = "maintain-resolution";
        try { await sender.setParameters(params); } catch (err) { /* older browsers */ }
      }
    }
  }
  async function removeTracks(stream) {
    for (const track of stream.getTracks()) {
      const sender = senders.get(track);
      senders.delete(track);
      track.stop();
      if (sender && client.pc && client.pc.getSenders().includes(sender)) client.pc.removeTrack(sender);
    }
  }
  function needCapture(what) {
    if (!navigator.mediaDevices || !navigator.mediaDevices[what]) throw Object.assign(new Error(""), { code: "insecure" });
    if (!client.pc) throw Object.assign(new Error(""), { code: "not_connected" });
  }
  async function startCamera() {
    needCapture("getUserMedia");
    cameraStream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } }, audio: true });
    preview.srcObject = screenStream || cameraStream;
    await addTracks(cameraStream, "motion");
    await client.renegotiate();
  }
  async function stopCamera() {
    const stream = cameraStream;
    cameraStream = null;
    preview.srcObject = screenStream;
    await removeTracks(stream);
    await client.renegotiate();
  }
  async function startScreen() {
    needCapture("getDisplayMedia");
    screenStream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const [track] = screenStream.getVideoTracks();
    track.addEventListener("ended", () => { if (screenStream) run(stopScreen); });
    preview.srcObject = screenStream; // students see the screen while it is shared
    await addTracks(screenStream, "detail");
    await client.renegotiate();
  }
  async function stopScreen() {
    const stream = screenStream;
    screenStream = null;
    preview.srcObject = cameraStream;
    await removeTracks(stream);
    await client.renegotiate();
  }
  let busy = false;
  /** Runs one media action; false if it failed (or another one was running). */
  async function run(action) {
    if (busy) return false;
    busy = true;
    camera.disabled = screen.disabled = true;
    say(t("common.working"));
    let failed = false;
    try { await action(); } catch (err) {
      failed = true;
      const key = err.code === "insecure" ? "media.need_https" : err.code === "not_connected" ? "media.not_connected"
        : err.name === "NotAllowedError" ? "media.denied" : err.name === "NotFoundError" ? "media.no_camera" : null;
      say(key ? t(key) : humanError(err), true);
    } finally {
      busy = false;
      camera.disabled = screen.disabled = false;
      camera.textContent = cameraStream ? t("media.stop_camera") : t("media.start_camera");
      screen.textContent = screenStream ? t("media.stop_screen") : t("media.share_screen");
      mic.hidden = !cameraStream;
      if (!failed) describe();
    }
    return !failed;
  }
  camera.onclick = () => run(cameraStream ? stopCamera : startCamera);
  screen.onclick = () => run(screenStream ? stopScreen : startScreen);
  mic.onclick = () => {
    const audio = cameraStream && cameraStream.getAudioTracks()[0];
    if (!audio) return;
    audio.enabled = !audio.enabled;
    mic.setAttribute("aria-pressed", String(!audio.enabled));
    mic.textContent = audio.enabled ? t("media.mute_mic") : t("media.unmute_mic");
  };
  // After a reconnect the client has a new peer connection: publish the same tracks on it.
  // A server that has just restarted may refuse the first try (its peer set-up not ready,
  // WebRTC not up yet): try again with backoff while connected, or the class has no video.
  let republishTimer = null;
  async function republish(attempt) {
    clearTimeout(republishTimer);
    const streams = [[cameraStream, "motion"], [screenStream, "detail"]].filter(([s]) => s);
    if (!streams.length || client.state !== "connected") return;
    const ok = await run(async () => {
      senders.clear();
      for (const [stream, hint] of streams) await addTracks(stream, hint);
      await client.renegotiate();
    });
    if (!ok && attempt < 6) republishTimer = setTimeout(() => republish(attempt + 1), 1000 * 2 ** attempt);
  }
  client.on("reconnected", () => republish(0));

  function drawState(body) {
    const offered = body.offered || [];
    ctx.media.offered = offered.length ? offered : RUNGS;
    const others = (body.sources || []).filter((s) => s.origin === "synthetic" || s.origin === "whip" || String(s.origin).startsWith("whip"));
    source.textContent = others.length ? t(others[0].origin === "synthetic" ? "media.source_synthetic" : "media.source_whip") : "";
    const ladder = (body.ladders || []).find((l) => l.kind === "video") || null;
    rungs.hidden = !ladder;
    rungs.replaceChildren(...RUNGS.map((name) => {
      const r = ladder && ladder.rungs ? ladder.rungs[name] : null;
      const isOffered = offered.includes(name);
      return el("li", { dataset: { rung: name, offered: String(isOffered), viewers: String(r ? r.subscribers : 0) } },
        el("strong", {}, t(`rung.${name}`)), " ",
        isOffered ? t("media.n_viewers", { n: r ? r.subscribers : 0 }) : t("media.not_offered"));
    }));
    host.dataset.video = String(Boolean(body.video));
    const list = body.workers || [];
    workers.hidden = list.length < 2;
    workers.textContent = list.length < 2 ? "" : t("media.workers", {
      publisher: body.publisher_worker || "—",
      counts: list.map((w) => `${w.worker}: ${w.viewers}`).join(", "),
    });
  }
  let polling = false;
  async function refresh() {
    const sid = client.welcome && client.welcome.session && client.welcome.session.id;
    if (!sid || polling || client.state !== "connected") return;
    polling = true;
    try {
      const resp = await fetch(`/api/sessions/${encodeURIComponent(sid)}/media`, { headers: { Authorization: `Bearer ${client.token}` }, cache: "no-store" });
      if (resp.ok) {
        const body = await resp.json();
        drawState(body);
        // A link estimate means something only while video flows to the viewer.
        model.viewers((body.viewers || []).map((v) => (body.video ? v : { ...v, link: null })));
        host.dataset.polled = String(Date.now());
      }
    } catch (err) { /* shown by the connection state */ } finally { polling = false; }
  }
  setInterval(refresh, POLL_MS);
  client.on("welcome", () => refresh());
  client.on("media.state", () => refresh());
  client.on("media.quality", (env) => { model.quality(env.payload); refresh(); });
  drawState({ offered: RUNGS, ladders: [] });
}
