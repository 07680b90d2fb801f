// Media, teacher side: publish the camera + microphone and a screen share over the class
// peer connection (the server's ladder encodes each once per quality rung), and watch and
// steer what every student receives. The viewer table polls GET /api/sessions/{id}/media.

import { el } from "/dom.js";
const RUNGS = ["high", "medium", "low"];
const POLL_MS = 2000;

export async function mount(client, section) {
  const camera = el("button", { id: "media-camera", type: "button" }, "Start camera + mic");
  const screen = el("button", { id: "media-screen", type: "button" }, "Share screen");
  const status = el("div", { id: "media-status", class: "media-note", role: "status" }, "not publishing");
  const preview = el("video", { id: "media-preview", autoplay: "", playsinline: "", muted: "" });
  preview.muted = true; // our own microphone must not play back
  const state = el("div", { id: "media-state", class: "media-note" });
  const viewers = el("tbody", { id: "media-viewers" });
  const ladders = el("tbody", { id: "media-ladders" });
  section.dataset.panel = "media";
  section.append(
    el("h2", {}, "Video"), el("div", { class: "media-buttons" }, camera, " ", screen), status,
    preview, state,
    el("h3", {}, "Students receiving video"),
    el("table", { class: "media-table" },
      el("thead", {}, el("tr", {}, ...["Student", "Rung", "Delivering", "Reason", "Set rung"]
        .map((h) => el("th", {}, h)))), viewers),
    el("h3", {}, "Ladder"),
    el("table", { class: "media-table" },
      el("thead", {}, el("tr", {}, ...["Source", "Size", "Subscribers", ...RUNGS]
        .map((h) => el("th", {}, h)))), ladders));
  if (!document.getElementById("media-teacher-style")) {
    document.head.append(el("style", { id: "media-teacher-style" }, STYLE));
  }

  // -- publishing ---------------------------------------------------------------------------
  let cameraStream = null;
  let screenStream = null;
  const senders = new Map(); // MediaStreamTrack -> RTCRtpSender

  const say = (text, error = false) => {
    status.textContent = text;
    status.dataset.error = error ? "true" : "false";
  };

  function describe() {
    const parts = [];
    if (cameraStream) parts.push("camera + mic");
    if (screenStream) parts.push("screen");
    say(parts.length ? `publishing ${parts.join(" and ")}` : "not publishing");
    section.dataset.publishing = parts.join(",");
  }

  async function addTracks(stream, hint) {
    for (const track of stream.getTracks()) {
      if (track.kind === "video") track.contentHint = hint;
      const sender = client.pc.addTrack(track, stream);
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

  function needMediaDevices(what) {
    // Browsers expose capture only to secure contexts: https, or http://localhost.
    if (!navigator.mediaDevices || !navigator.mediaDevices[what]) {
      throw new Error("this page must be opened over https (or on localhost) to use the camera or share the screen");
    }
    if (!client.pc) throw new Error("not connected yet");
  }

  async function startCamera() {
    needMediaDevices("getUserMedia");
    cameraStream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
      audio: true,
    });
    preview.srcObject = cameraStream;
    await addTracks(cameraStream, "motion");
    await client.renegotiate();
  }

  async function stopCamera() {
    const stream = cameraStream;
    cameraStream = null;
    preview.srcObject = null;
    await removeTracks(stream);
    await client.renegotiate();
  }

  async function startScreen() {
    needMediaDevices("getDisplayMedia");
    screenStream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const [track] = screenStream.getVideoTracks();
    // The browser's own "Stop sharing" button ends the track: stop publishing it too.
    track.addEventListener("ended", () => { if (screenStream) run(stopScreen); });
    await addTracks(screenStream, "detail");
    await client.renegotiate();
  }

  async function stopScreen() {
    const stream = screenStream;
    screenStream = null;
    await removeTracks(stream);
    await client.renegotiate();
  }

  let busy = false;
  async function run(action) {
    if (busy) return;
    busy = true;
    camera.disabled = screen.disabled = true;
    try {
      await action();
    } catch (err) {
      say(`${err.name || "Error"}: ${err.message}`, true);
    } finally {
      busy = false;
      camera.disabled = screen.disabled = false;
      camera.textContent = cameraStream ? "Stop camera + mic" : "Start camera + mic";
      screen.textContent = screenStream ? "Stop sharing" : "Share screen";
      if (status.dataset.error !== "true") describe();
    }
  }
  camera.onclick = () => { say("…"); run(cameraStream ? stopCamera : startCamera); };
  screen.onclick = () => { say("…"); run(screenStream ? stopScreen : startScreen); };

  // After a reconnect the client has a new peer connection: publish the same tracks on it.
  client.addEventListener("reconnected", () => run(async () => {
    senders.clear();
    const streams = [[cameraStream, "motion"], [screenStream, "detail"]].filter(([s]) => s);
    for (const [stream, hint] of streams) await addTracks(stream, hint);
    if (streams.length) await client.renegotiate();
  }));

  // -- what students receive ----------------------------------------------------------------
  const rows = new Map(); // connection id -> { row, select }

  function viewerRow(v) {
    let entry = rows.get(v.connection);
    if (!entry) {
      const select = el("select", { dataset: { setRung: v.user }, "aria-label": `rung for ${v.user}` },
        ...RUNGS.map((r) => new Option(r, r)));
      select.onchange = () => setRung(v.user, select.value);
      const row = el("tr", { dataset: { user: v.user, connection: v.connection } });
      entry = { row, select, cells: [0, 1, 2, 3].map(() => el("td")) };
      row.append(...entry.cells, el("td", {}, select));
      rows.set(v.connection, entry);
    }
    const delivering = v.video ? v.video.rung : (v.audio ? v.audio.rung : null);
    const [who, rung, deliv, reason] = entry.cells;
    who.textContent = v.user;
    rung.textContent = v.effective + (v.pinned_max ? ` (student max ${v.pinned_max})` : "");
    deliv.textContent = delivering || "— (nothing published)";
    reason.textContent = v.reason;
    Object.assign(entry.row.dataset, { effective: v.effective, delivering: delivering || "" });
    if (document.activeElement !== entry.select) entry.select.value = v.wanted;
    return entry.row;
  }

  function drawViewers(list) {
    const seen = new Set(list.map((v) => v.connection));
    for (const id of [...rows.keys()]) if (!seen.has(id)) rows.delete(id);
    viewers.replaceChildren(...list.map(viewerRow));
    if (!list.length) viewers.append(el("tr", {}, el("td", { colspan: "5" }, "nobody receives video yet")));
  }

  function drawLadders(list) {
    ladders.replaceChildren(...list.map((l) => {
      const size = l.source_size ? `${l.source_size[0]}×${l.source_size[1]}` : "—";
      const perRung = RUNGS.map((name) => {
        const r = l.rungs && l.rungs[name];
        if (!r || !(l.offered || []).includes(name)) return el("td", { class: "media-off" }, "not offered");
        return el("td", { dataset: { rung: name, running: String(r.running) } },
          `${r.running ? "encoding" : "idle"} · ${r.subscribers} sub.`);
      });
      return el("tr", { dataset: { role: l.role, kind: l.kind, activeEncoders: String(l.active_encoders) } },
        el("td", {}, `${l.role} (${l.kind}) from ${l.origin}`), el("td", {}, size),
        el("td", {}, `${l.subscribers} · ${l.active_encoders} encoder(s)`), ...perRung);
    }));
    if (!list.length) ladders.append(el("tr", {}, el("td", { colspan: "6" }, "nothing published")));
  }

  async function setRung(user, rung) {
    try {
      await client.request({ type: "media.set_rung", user, rung });
      refresh();
    } catch (err) {
      say(`could not set ${user} to ${rung}: ${err.message}`, true);
    }
  }

  let polling = false;
  async function refresh() {
    const sessionId = client.welcome && client.welcome.session && client.welcome.session.id;
    if (!sessionId || polling) return;
    polling = true;
    try {
      const resp = await fetch(`/api/sessions/${encodeURIComponent(sessionId)}/media`, {
        headers: { Authorization: `Bearer ${client.token}` }, cache: "no-store" });
      const body = await resp.json();
      if (!resp.ok) throw new Error(body.error ? body.error.message : `HTTP ${resp.status}`);
      const screenShare = body.screen_share ? " · screen share shown" : "";
      state.textContent = `video ${body.video ? "on" : "off"}, audio ${body.audio ? "on" : "off"}${screenShare}`;
      drawViewers(body.viewers || []);
      drawLadders(body.ladders || []);
      section.dataset.polled = String(Date.now());
    } catch (err) {
      state.textContent = `media state unavailable: ${err.message}`;
    } finally {
      polling = false;
    }
  }
  setInterval(refresh, POLL_MS);
  client.addEventListener("welcome", () => refresh());
  client.addEventListener("media.state", () => refresh());
  client.addEventListener("media.quality", () => refresh());
}

const STYLE = `
#panel-media video { max-width: 320px; background: #111; display: block; margin: .5em 0; }
#panel-media .media-table { border-collapse: collapse; font-size: .9em; }
#panel-media .media-table td, #panel-media .media-table th { border: 1px solid #ccc; padding: .2em .4em; }
#panel-media .media-off { color: #999; }
#panel-media .media-note[data-error="true"] { color: #b00; }
`;
