// classroom-rtc browser client: the protocol of docs/protocol.md in one small class.
// Events arrive over the "events" data channel once it is open, over the WebSocket before
// that (or when asked); a "transport" reply marks the switch. Events from a transport that
// has not been announced yet are held, and any seq already seen is dropped.
//
// Connection states (the "state" event, detail {state, ...}): connecting, connected,
// reconnecting {retryAt, attempt}, ended (the class ended: 4010), removed (the teacher
// removed this user: 4003), replaced (this class opened in another tab: 4009), refused
// {code} (a bad or expired link), flooding (4029). docs/protocol.md 5.5 lists the codes.
// Pages show them in words; no close code reaches a person.

const RETRY_MS = [200, 400, 800, 1600, 3200, 5000]; // 5.5: 0.2 s doubling to 5 s
const PING_MS = 1000;
const STALL_MS = 2000;        // nothing heard for this long while pinging: show "reconnecting"
const DEAD_MS = 7000;         // nothing heard for this long: give the connection up and rejoin
const NO_RETRY = { 4010: "ended", 4003: "removed", 4009: "replaced", 4029: "flooding" };
// Refusals that mean "not now", not "never": try again.
const TRANSIENT = new Set(["network", "unavailable", "rate_limited", "timeout"]);
const transient = (code) => TRANSIENT.has(code) || String(code || "").startsWith("http_5");

export class ClassroomClient extends EventTarget {
  constructor(token, { transport = "auto", media = false, device = "browser", snapshot = true } = {}) {
    super();
    this.token = token;
    this.transport = transport;
    this.media = media;
    this.device = device;
    this.snapshot = snapshot;
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
    this.state = "connecting";
    this.attempt = 0;
    this.retryTimer = null;
    this.lastHeard = 0;
    this.rttMs = null;
    this.heartbeat = null;
  }

  setState(state, extra = {}) {
    this.state = state;
    this.emit("state", { state, ...extra });
  }

  url(resume) {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    let url = resume && this.resumeToken
      ? `${proto}://${location.host}/ws?resume=${encodeURIComponent(this.resumeToken)}&last_seq=${this.lastSeq}`
      : `${proto}://${location.host}/ws?token=${encodeURIComponent(this.token)}`;
    url += `&client=${encodeURIComponent(this.device)}`;
    if (!this.snapshot) url += "&snapshot=0";
    if (this.transport === "websocket" || this.transport === "websocket-only") url += "&transport=websocket";
    return url;
  }

  async connect(resume = false) {
    const ws = new WebSocket(this.url(resume));
    this.ws = ws;
    const welcome = await new Promise((resolve, reject) => {
      ws.onmessage = (m) => resolve(JSON.parse(String(m.data).split("\n")[0]));
      ws.onerror = () => reject(Object.assign(new Error("refused"), { refused: true }));
      ws.onclose = (e) => reject(Object.assign(new Error(`closed ${e.code}`), { closeCode: e.code }));
    });
    if (welcome.type === "error") throw Object.assign(new Error(welcome.payload.message), welcome.payload);
    this.welcome = welcome.payload;
    this.resumeToken = this.welcome.resume_token;
    if (!resume || this.welcome.snapshot) this.lastSeq = this.welcome.last_seq;
    this.eventsVia = "websocket";
    this.held = { websocket: [], datachannel: [] };
    this.lastHeard = Date.now();
    this.emit("welcome", this.welcome);
    if (this.welcome.snapshot) this.emit("snapshot", this.welcome.snapshot);
    ws.onmessage = (m) => this.onFrame(m.data, "websocket");
    ws.onclose = (e) => this.onClosed(e, ws);
    ws.onerror = null;
    this.attempt = 0;
    this.setState("connected", { resumed: this.welcome.resumed || null, snapshot: Boolean(this.welcome.snapshot) });
    this.startHeartbeat();
    if (this.transport !== "websocket-only") {
      try { await this.negotiate(); } catch (err) { console.warn("WebRTC negotiation failed; events stay on the WebSocket", err); }
    }
    for (const text of this.unacked.values()) this.sendText(text);
    return this.welcome;
  }

  // First connection: a refusal before the upgrade (bad or expired link, class ended) is
  // explained by asking the HTTP API with the same token (a WebSocket cannot see the status).
  async start() {
    this.setState("connecting");
    try {
      return await this.connect(false);
    } catch (err) {
      const code = err.code || await this.probe();
      if (code === "session_ended") { this.setState("ended"); throw err; }
      if (code && !transient(code)) { this.setState("refused", { code }); throw err; }
      this.scheduleRetry();
      return null;
    }
  }

  async probe() {
    try {
      const sid = tokenClaims(this.token).sid || "";
      const resp = await fetch(`/api/sessions/${encodeURIComponent(sid)}`, {
        headers: { Authorization: `Bearer ${this.token}` }, cache: "no-store" });
      if (resp.ok) return null;
      const body = await resp.json().catch(() => ({}));
      return body.error ? body.error.code : `http_${resp.status}`;
    } catch (err) {
      return "network";
    }
  }

  onClosed(e, ws) {
    if (ws !== this.ws) return; // an old socket we already gave up
    this.stopHeartbeat();
    if (this.pc) { this.pc.close(); this.pc = null; this.dc = null; this.ephemeral = null; }
    this.emit("closed", { code: e.code });
    if (this.closing) { this.setState("left"); return; }
    if (NO_RETRY[e.code]) { this.setState(NO_RETRY[e.code]); return; }
    // 1000, 1001 (server restarting), 1006 (dropped), 4008 (too slow), 4012
    // (resynchronise): come back and get what was missed.
    this.scheduleRetry();
  }

  scheduleRetry(delayMs) {
    clearTimeout(this.retryTimer);
    const delay = delayMs ?? RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
    this.attempt += 1;
    this.setState("reconnecting", { retryAt: Date.now() + delay, attempt: this.attempt });
    this.retryTimer = setTimeout(() => this.retry(), delay);
  }

  retryNow() { if (this.state === "reconnecting") this.scheduleRetry(0); }

  async retry() {
    try {
      await this.connect(Boolean(this.resumeToken));
      this.emit("reconnected", { lastSeq: this.lastSeq, resumed: this.welcome.resumed || null });
    } catch (err) {
      // A refused upgrade shows no reason to a WebSocket: ask the HTTP API with the token.
      const code = err.code || await this.probe();
      if (code === "session_ended") { this.setState("ended"); return; }
      if (code === "forbidden") { this.setState("removed"); return; }
      const reachable = !transient(code);
      if (reachable && this.resumeToken) {
        // The server is up but refused the resume (its credential is gone): join afresh
        // with the page's token next time; the snapshot catches the page up.
        this.resumeToken = null;
      } else if (reachable && code) {
        this.setState("refused", { code });
        return;
      }
      this.scheduleRetry();
    }
  }

  // One ping a second: it measures the round trip (the server's quality estimate uses it)
  // and notices a connection that went silent without closing.
  startHeartbeat() {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      const silent = Date.now() - this.lastHeard;
      if (silent > DEAD_MS && this.ws) {
        const ws = this.ws;
        this.onClosed({ code: 1006 }, ws);
        this.ws = null;
        try { ws.close(); } catch (err) { /* already gone */ }
        return;
      }
      if (silent > STALL_MS && this.state === "connected") this.setState("stalled");
      // With last_seq: after a lost data channel the server resends from there (5.5).
      const ping = { type: "ping", t: performance.now(), last_seq: this.lastSeq };
      if (this.rttMs !== null) ping.rtt_ms = Math.round(this.rttMs);
      const eph = this.ephemeral && this.ephemeral.readyState === "open";
      this.sendText(JSON.stringify(ping), eph ? "ephemeral" : "websocket");
    }, PING_MS);
  }

  stopHeartbeat() { clearInterval(this.heartbeat); this.heartbeat = null; }

  async negotiate() {
    const iceServers = (this.welcome.ice_servers || []).map((s) => ({ ...s }));
    this.pc = new RTCPeerConnection({ iceServers });
    const pc = this.pc;
    this.dc = pc.createDataChannel("events", { ordered: true });
    this.ephemeral = pc.createDataChannel("ephemeral", { ordered: false, maxRetransmits: 0 });
    this.dc.onmessage = (m) => this.onFrame(m.data, "datachannel");
    this.ephemeral.onmessage = (m) => this.onFrame(m.data, "ephemeral");
    this.dc.onopen = () => this.emit("datachannel", { open: true });
    pc.onicecandidate = (e) => {
      if (e.candidate && this.pc === pc) {
        this.send({ type: "candidate", candidate: e.candidate.candidate,
                    sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex }, "websocket");
      }
    };
    pc.ontrack = (e) => this.emit("track", { track: e.track, streams: e.streams });
    // The path of the peer connection died while the WebSocket lives (a firewall, a NAT
    // rebinding): the server moved events to the WebSocket; offer a new peer connection on
    // the same WebSocket, with backoff while UDP stays blocked (5.5).
    pc.onconnectionstatechange = () => {
      if (pc.connectionState !== "failed" || this.pc !== pc) return;
      pc.close();
      this.pc = null; this.dc = null; this.ephemeral = null;
      this.restorePeer(1000);
    };
    if (this.media) {
      pc.addTransceiver("video", { direction: "recvonly" });
      pc.addTransceiver("audio", { direction: "recvonly" });
    }
    this.emit("peer", { pc });
    await pc.setLocalDescription(await pc.createOffer());
    const reply = await this.request({ type: "offer", sdp: pc.localDescription.sdp }, "websocket");
    if (this.pc === pc) await pc.setRemoteDescription({ type: "answer", sdp: reply.sdp });
  }

  restorePeer(delayMs) {
    setTimeout(async () => {
      if (this.pc || !this.ws || this.ws.readyState !== WebSocket.OPEN || this.closing) return;
      try {
        await this.negotiate();
        this.emit("reconnected", { lastSeq: this.lastSeq, resumed: { replayed: 0 }, peerOnly: true });
      } catch (err) {
        if (this.pc) { this.pc.close(); this.pc = null; this.dc = null; this.ephemeral = null; }
        this.restorePeer(Math.min(delayMs * 2, 10000));
      }
    }, delayMs);
  }

  // Offer again (docs/protocol.md 4.1: allowed whenever the signaling state is "stable"),
  // e.g. after adding or removing a track. Calls are queued so that two quick changes
  // (camera, then screen) never overlap, and each waits out a server offer in progress.
  renegotiate() {
    const run = async () => {
      const pc = this.pc;
      if (!pc) throw new Error("not connected");
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
    this.lastHeard = Date.now();
    if (this.state === "stalled") this.setState("connected", {});
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
    if (env.type === "pong") {
      if (typeof env.payload.t === "number") this.rttMs = performance.now() - env.payload.t;
      return;
    }
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
      else if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
    } catch (err) { /* disconnected: kept in unacked, resent on reconnect */ }
  }

  // A message whose reply is awaited. While reconnecting it waits (it is resent on
  // reconnect), so the timeout is generous.
  request(message, via, timeoutMs = 20000) {
    return new Promise((resolve, reject) => {
      const id = this.send(message, via);
      this.pending.set(id, { resolve, reject });
      setTimeout(() => {
        if (this.pending.delete(id)) reject(Object.assign(new Error("timeout"), { code: "timeout" }));
      }, timeoutMs);
    });
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  on(type, fn) { this.addEventListener(type, (e) => fn(e.detail)); }

  close() {
    this.closing = true;
    clearTimeout(this.retryTimer);
    this.send({ type: "leave" }, "websocket");
  }
}

const UNTRACKED = new Set(["offer", "answer", "candidate", "ping", "transport", "leave"]);

/** The claims of a join token (not verified: only to address the API with it). */
export function tokenClaims(token) {
  try {
    const part = String(token).split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    return {};
  }
}

export function tokenFromUrl() {
  return new URLSearchParams(location.search).get("token");
}

/** A JSON API call with the join token; errors carry the server's code. A call that has
 * no answer within ``timeoutMs`` fails as "network" (a page must not wait blank forever). */
export async function api(path, { token, method = "GET", body, timeoutMs = 10000 } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw Object.assign(new Error("network"), { code: "network" });
  }
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const e = data.error || {};
    throw Object.assign(new Error(e.message || `HTTP ${resp.status}`), { code: e.code || `http_${resp.status}`, status: resp.status });
  }
  return data;
}
