// Video, student side: the teacher's video and audio (or the screen while one is shared),
// a prompt to turn the sound on (browsers start media muted), the quality delivered and
// why, in words, and a "max quality" choice for a metered or slow connection.

import { announce, el } from "/dom.js";
import { humanError, t } from "/i18n.js";

const CAPS = ["", "high", "medium", "low"];

export function mount(ctx, host) {
  const { client } = ctx;
  host.dataset.panel = "media";
  const video = el("video", { id: "media-video", autoplay: true, playsinline: true, muted: true, "aria-label": t("media.teacher_video") });
  video.muted = true; // muted so that autoplay is allowed; the button turns the sound on
  const unmute = el("button", { id: "media-unmute", type: "button", class: "btn btn-primary unmute" }, t("media.sound_on"));
  const waiting = el("p", { id: "media-state", class: "video-waiting", dataset: { video: "false" } }, t("media.waiting"));
  const rung = el("span", { id: "media-rung", dataset: { rung: "" } }, "");
  const reason = el("span", { id: "media-reason", class: "muted" });
  const cap = el("select", { id: "media-max" }, ...CAPS.map((c) => new Option(c ? t(`rung.${c}`) : t("media.no_limit"), c)));
  const capStatus = el("span", { id: "media-max-status", class: "muted", role: "status" });
  host.append(
    el("div", { class: "video-frame" }, video, waiting, unmute),
    el("div", { class: "video-meta" },
      el("p", { class: "quality-line" }, el("span", { class: "sr-only" }, t("media.quality_label")), rung, " ", reason),
      el("label", { class: "field-inline" }, el("span", {}, t("media.max_quality")), cap), capStatus));

  const remote = new MediaStream();
  client.on("track", ({ track }) => {
    for (const old of remote.getTracks().filter((x) => x.kind === track.kind)) remote.removeTrack(old);
    remote.addTrack(track);
    if (video.srcObject !== remote) video.srcObject = remote;
    video.play().catch(() => { /* autoplay refused: the sound button starts it */ });
  });
  client.on("reconnected", () => { for (const old of remote.getTracks().filter((x) => x.readyState === "ended")) remote.removeTrack(old); });
  unmute.onclick = () => {
    video.muted = !video.muted;
    unmute.textContent = video.muted ? t("media.sound_on") : t("media.sound_off");
    unmute.classList.toggle("btn-primary", video.muted);
    video.play().catch(() => {});
  };
  const showSize = () => {
    host.dataset.videoHeight = String(video.videoHeight);
    // Until the server says which rung (a media.quality event), the picture's own size.
    if (!rung.dataset.rung && video.videoHeight) rung.textContent = `${video.videoHeight}p`;
    if (video.videoHeight) waiting.hidden = true;
  };
  video.addEventListener("resize", showSize);
  video.addEventListener("loadedmetadata", showSize);

  const describe = (p) => {
    if (p.by && p.by !== "adaptive") return t("media.reason_teacher");
    if (p.pinned_max && p.rung === p.pinned_max) return t("media.reason_cap");
    if (String(p.reason || "").startsWith("down")) return t("media.reason_down");
    if (String(p.reason || "").startsWith("up")) return t("media.reason_up");
    return t("media.reason_auto");
  };
  client.on("media.quality", (env) => {
    const p = env.payload;
    // Below the lowest rung the step says what is shown: fewer frames, or a still picture.
    const step = p.step && p.step !== p.rung ? p.step : null;
    rung.textContent = step ? t(`step.${step}`) : t(`rung.${p.rung}`);
    rung.dataset.rung = p.rung;
    rung.dataset.step = p.step || p.rung;
    reason.textContent = `· ${step === "audio_only" ? t("media.reason_audio_only") : describe(p)}`;
    reason.title = p.reason || "";
    if (step) announce(step === "audio_only" ? t("media.reason_audio_only") : t(`step.${step}`));
    if (p.pinned_max !== undefined) cap.value = p.pinned_max || "";
  });
  client.on("media.state", (env) => {
    const p = env.payload;
    waiting.dataset.video = String(Boolean(p.video));
    waiting.textContent = !p.video && !p.audio ? t("media.teacher_off") : p.screen_share ? t("media.screen_shown") : t("media.receiving");
    waiting.hidden = Boolean(p.video) && video.videoHeight > 0;
    if (p.screen_share) announce(t("media.screen_shown"));
  });
  cap.onchange = async () => {
    capStatus.textContent = t("common.sending");
    try {
      await client.request({ type: "media.max_rung", rung: cap.value || null });
      capStatus.textContent = cap.value ? t("media.capped", { rung: t(`rung.${cap.value}`) }) : "";
    } catch (err) { capStatus.textContent = humanError(err); }
  };
}
