// Media, student side: the teacher's video and audio (camera, or the screen while one is
// shared), the quality rung the server delivers and why, and a cap the student may set
// (for a slow connection or a small screen). Needs the client created with { media: true }.

import { el } from "/dom.js";
const CAPS = [["", "no limit"], ["high", "high (1080p)"], ["medium", "medium (720p)"], ["low", "low (480p)"]];

export async function mount(client, section) {
  section.dataset.panel = "media";
  if (!client.media) {
    section.append(el("h2", {}, "Video"), el("p", { class: "media-note" },
      "Video is off for this page (opened with media=0)."));
    return;
  }
  // Muted so that autoplay is allowed without a click; the button below unmutes.
  const video = el("video", { id: "media-video", autoplay: "", playsinline: "", muted: "" });
  video.muted = true;
  const unmute = el("button", { id: "media-unmute", type: "button" }, "Unmute");
  const rung = el("span", { id: "media-rung", dataset: { rung: "" } }, "—");
  const reason = el("span", { id: "media-reason" });
  const size = el("span", { id: "media-size" });
  const state = el("div", { id: "media-state", class: "media-note" }, "waiting for the teacher's video…");
  const cap = el("select", { id: "media-max", "aria-label": "maximum quality" },
    ...CAPS.map(([value, label]) => new Option(label, value)));
  const capStatus = el("span", { id: "media-max-status", class: "media-note" });
  section.append(
    el("h2", {}, "Video"), video,
    el("div", {}, unmute, " ", el("label", {}, "Max quality ", cap), " ", capStatus),
    el("div", { class: "media-note" }, "Quality: ", rung, " ", size, " ", reason), state);
  if (!document.getElementById("media-student-style")) {
    document.head.append(el("style", { id: "media-student-style" }, STYLE));
  }

  const remote = new MediaStream();
  client.addEventListener("track", (e) => {
    const { track } = e.detail;
    for (const old of remote.getTracks().filter((t) => t.kind === track.kind)) remote.removeTrack(old);
    remote.addTrack(track);
    if (video.srcObject !== remote) video.srcObject = remote;
    video.play().catch(() => { /* autoplay refused: the unmute click starts it */ });
  });
  // A reconnect brings a new peer connection and new tracks: drop the old ones.
  client.addEventListener("reconnected", () => {
    for (const old of remote.getTracks().filter((t) => t.readyState === "ended")) remote.removeTrack(old);
  });

  unmute.onclick = () => {
    video.muted = !video.muted;
    unmute.textContent = video.muted ? "Unmute" : "Mute";
    video.play().catch(() => {});
  };

  const showSize = () => {
    size.textContent = video.videoHeight ? `(${video.videoWidth}×${video.videoHeight})` : "";
    section.dataset.videoHeight = String(video.videoHeight);
  };
  video.addEventListener("resize", showSize);
  video.addEventListener("loadedmetadata", showSize);

  client.addEventListener("media.quality", (e) => {
    const p = e.detail.payload;
    rung.textContent = p.rung;
    rung.dataset.rung = p.rung;
    reason.textContent = p.reason ? `— ${p.reason}` : "";
    if (p.pinned_max !== undefined) cap.value = p.pinned_max || "";
  });
  client.addEventListener("media.state", (e) => {
    const p = e.detail.payload;
    state.textContent = !p.video && !p.audio ? "the teacher is not sending video right now"
      : p.screen_share ? "showing the teacher's screen" : `receiving ${p.video ? "video" : ""}${p.video && p.audio ? " and " : ""}${p.audio ? "audio" : ""}`;
    state.dataset.video = String(Boolean(p.video));
  });

  cap.onchange = async () => {
    capStatus.textContent = "…";
    try {
      await client.request({ type: "media.max_rung", rung: cap.value || null });
      capStatus.textContent = cap.value ? `at most ${cap.value}` : "";
    } catch (err) {
      capStatus.textContent = err.message;
    }
  };
}

const STYLE = `
#panel-media video { width: 100%; max-width: 640px; background: #111; display: block; }
#panel-media .media-note { color: #555; font-size: .9em; }
`;
