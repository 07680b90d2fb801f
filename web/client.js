// classroom-rtc browser client: the protocol of docs/protocol.md in one small class.
// Events arrive over the "events" data channel once it is open, over the WebSocket before
// that (or when asked); a "transport" reply marks the switch. Events from a transport that
// has not been announced yet are held, and any seq already seen is dropped.

export class ClassroomClient extends EventTarget {
  constructor(token, { transport = "auto", media = false } = {}) {
    super();
    this.token = token;
    this.transport = transport;
    this.media = media;
    this.lastSeq = 0;
    this.eventsVia = "websocket";
    this.held = { websocket: [], datachannel: [] };
    this.pending = new Map();
    this.nextId = 1;
    this.prefix = Math.random().toString(16).slice(2, 8);
    this.pc = null;
    this.dc = null;
    this.ephemeral = null;
    this.unacked = new Map(); // id -> text, resent after a reconnect (the server dedupes by id)
    this.resumeToken = null;
    this.closing = false;
  }

  async connect(resume = false) {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    let url = resume && this.resumeToken
      ? `${proto}://${location.host}/ws?resume=${encodeURIComponent(this.resumeToken)}&last_seq=${this.lastSeq}`
      : `${proto}://${location.host}/ws?token=${encodeURIComponent(this.token)}`;
    if (this.transport === "websocket") url += "&transport=websocket";
    this.ws = new WebSocket(url);
    const welcome = await new Promise((resolve, reject) => {
      this.ws.onmessage = (m) => resolve(JSON.parse(m.data));
      this.ws.onerror = () => reject(new Error("WebSocket refused (token or session?)"));
      this.ws.onclose = (e) => reject(new Error(`closed ${e.code} ${e.reason}`));
    });
    if (welcome.type === "error") throw new Error(welcome.payload.message);
    this.welcome = welcome.payload;
    this.resumeToken = this.welcome.resume_token;
    if (!resume || this.welcome.snapshot) this.lastSeq = this.welcome.last_seq;
    this.eventsVia = "websocket";
    this.held = { websocket: [], datachannel: [] };
    this.emit("welcome", this.welcome);
    if (this.welcome.snapshot) this.emit("snapshot", this.welcome.snapshot);
    this.ws.onmessage = (m) => this.onFrame(m.data, "websocket");
    this.ws.onclose = (e) => this.onClosed(e);
    if (this.transport !== "websocket-only") await this.negotiate();
    for (const text of this.unacked.values()) this.sendText(text);
    return this.welcome;
  }

  onClosed(e) {
    this.emit("closed", { code: e.code, reason: e.reason });
    if (this.pc) { this.pc.close(); this.pc = null; this.dc = null; this.ephemeral = null; }
    // Dropped (network change, tab sleep): come back and get what was missed.
    // Not after leaving, a session end (4010), flooding (4029) or a refusal.
    if (this.closing || [1000, 4010, 4029].includes(e.code)) return;
    const retry = (delay) => setTimeout(() => {
      this.connect(true).then(() => this.emit("reconnected", { lastSeq: this.lastSeq }))
        .catch(() => retry(Math.min(delay * 2, 10000)));
    }, delay);
    retry(500);
  }

  async negotiate() {
    const iceServers = (this.welcome.ice_servers || []).map((s) => ({ ...s }));
    this.pc = new RTCPeerConnection({ iceServers });
    this.dc = this.pc.createDataChannel("events", { ordered: true });
    this.ephemeral = this.pc.createDataChannel("ephemeral", { ordered: false, maxRetransmits: 0 });
    this.dc.onmessage = (m) => this.onFrame(m.data, "datachannel");
    this.ephemeral.onmessage = (m) => this.onFrame(m.data, "ephemeral");
    this.dc.onopen = () => this.emit("datachannel", { open: true });
    this.pc.onicecandidate = (e) => {
      if (e.candidate) {
        this.send({ type: "candidate", candidate: e.candidate.candidate,
                    sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex }, "websocket");
      }
    };
    this.pc.ontrack = (e) => this.emit("track", { track: e.track, streams: e.streams });
    if (this.media) {
      this.pc.addTransceiver("video", { direction: "recvonly" });
      this.pc.addTransceiver("audio", { direction: "recvonly" });
    }
    await this.pc.setLocalDescription(await this.pc.createOffer());
    const reply = await this.request({ type: "offer", sdp: this.pc.localDescription.sdp }, "websocket");
    await this.pc.setRemoteDescription({ type: "answer", sdp: reply.sdp });
  }

  // Offer again (docs/protocol.md 4.1: allowed whenever the signaling state is "stable"),
  // e.g. after adding or removing a track. Calls are queued so that two quick changes
  // (camera, then screen) never overlap, and each waits out a server offer in progress.
  renegotiate() {
    const run = async () => {
      const pc = this.pc;
      if (!pc) throw new Error("not connected: no peer connection to renegotiate");
      while (pc.signalingState !== "stable") {
        await new Promise((resolve) => pc.addEventListener("signalingstatechange", resolve, { once: true }));
        if (pc.signalingState === "closed") throw new Error("peer connection closed");
      }
      await pc.setLocalDescription(await pc.createOffer());
      const reply = await this.request({ type: "offer", sdp: pc.localDescription.sdp }, "websocket");
      await pc.setRemoteDescription({ type: "answer", sdp: reply.sdp });
    };
    this.negotiating = (this.negotiating || Promise.resolve()).catch(() => {}).then(run);
    return this.negotiating;
  }

  onFrame(data, via) {
    const text = typeof data === "string" ? data : new TextDecoder().decode(data);
    for (const line of text.split("\n")) {
      if (line) this.onEnvelope(JSON.parse(line), via);
    }
  }

  onEnvelope(env, via) {
    if (env.seq === null || env.seq === undefined) return this.onReply(env);
    const transport = via === "ephemeral" ? "datachannel" : via;
    if (transport !== this.eventsVia) { this.held[transport].push(env); return; }
    this.deliver(env);
  }

  deliver(env) {
    if (env.seq <= this.lastSeq) return; // already seen (a resend after a transport change)
    this.lastSeq = env.seq;
    this.emit("event", env);
    this.emit(env.type, env);
  }

  onReply(env) {
    if (env.re) this.unacked.delete(env.re);
    if (env.type === "transport") {
      this.eventsVia = env.payload.events;
      const held = this.held[this.eventsVia].sort((a, b) => a.seq - b.seq);
      this.held[this.eventsVia] = [];
      held.forEach((e) => this.deliver(e));
      this.emit("transport", env.payload);
    } else if (env.type === "offer" && this.pc) {
      this.answerServerOffer(env.payload.sdp);
    }
    const waiter = env.re && this.pending.get(env.re);
    if (waiter) {
      this.pending.delete(env.re);
      if (env.type === "error") waiter.reject(Object.assign(new Error(env.payload.message), env.payload));
      else waiter.resolve({ ...env.payload, type: env.type });
    } else if (env.type === "error") {
      this.emit("error-reply", env.payload);
    }
    this.emit("reply", env);
  }

  async answerServerOffer(sdp) {
    await this.pc.setRemoteDescription({ type: "offer", sdp });
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    this.send({ type: "answer", sdp: this.pc.localDescription.sdp }, "websocket");
  }

  send(message, via) {
    const msg = { id: `${this.prefix}-${this.nextId++}`, ...message };
    const text = JSON.stringify(msg);
    if (!UNTRACKED.has(msg.type)) this.unacked.set(msg.id, text);
    this.sendText(text, via);
    return msg.id;
  }

  sendText(text, via) {
    const dcOpen = this.dc && this.dc.readyState === "open";
    try {
      if (via === "ephemeral" && this.ephemeral && this.ephemeral.readyState === "open") this.ephemeral.send(text);
      else if (via !== "websocket" && dcOpen) this.dc.send(text);
      else if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
    } catch (err) { /* disconnected: kept in unacked, resent on reconnect */ }
  }

  request(message, via, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      const id = this.send(message, via);
      this.pending.set(id, { resolve, reject });
      setTimeout(() => { if (this.pending.delete(id)) reject(new Error("timeout")); }, timeoutMs);
    });
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  close() { this.closing = true; this.send({ type: "leave" }, "websocket"); }
}

const UNTRACKED = new Set(["offer", "answer", "candidate", "ping", "transport", "leave"]);

export function tokenFromUrl() {
  return new URLSearchParams(location.search).get("token");
}

export function appendLog(list, env, render) {
  const li = document.createElement("li");
  li.dataset.type = env.type;
  li.dataset.seq = env.seq;
  li.textContent = render ? render(env) : `#${env.seq} ${env.type} ${JSON.stringify(env.payload)}`;
  list.prepend(li);
  while (list.children.length > 200) list.lastChild.remove();
}

const PANELS = ["interactions", "content", "media"];

// Mount every feature panel for `role` into `container`, before connecting, so that
// the panels see the welcome and every event. A panel that fails does not stop the rest.
export async function mountPanels(client, role, container) {
  for (const name of PANELS) {
    try {
      const panel = await import(`/panels/${name}-${role}.js`);
      const section = document.createElement("section");
      section.id = `panel-${name}`;
      container.append(section);
      await panel.mount(client, section);
    } catch (err) {
      console.error(`panel ${name} failed`, err);
    }
  }
}
