// What the teacher's roster knows about each student, kept up to date from the welcome,
// the snapshot and the event stream. No DOM here: the view (roster-teacher.js) reads it.

const CONFUSED_FOR_MS = 5 * 60 * 1000;

export class RosterModel extends EventTarget {
  constructor() {
    super();
    this.people = new Map(); // user id -> person
    this.question = null;    // the open question {id, group, ...}
    this.groups = new Map(); // group -> Set(user ids)
    this.version = 0;
  }

  changed() { this.version += 1; this.dispatchEvent(new Event("change")); }

  person(id, fields = {}) {
    let p = this.people.get(id);
    if (!p) {
      p = { id, name: id, role: "student", connections: 0, device: "", state: "offline",
            hand: null, confused: null, answer: null, rung: "", reason: "", link: null,
            group: "", muted: false, lastSeen: 0 };
      this.people.set(id, p);
    }
    Object.assign(p, fields);
    return p;
  }

  students() { return [...this.people.values()].filter((p) => p.role === "student"); }

  fromSession(session) {
    for (const part of session.participants || []) {
      if (part.removed) { this.people.delete(part.user_id); continue; }
      this.person(part.user_id, { name: part.name || part.user_id, role: part.role,
        connections: part.connections, device: part.device || "",
        state: part.connections > 0 ? "online" : "offline", lastSeen: part.last_seen_ms || 0 });
    }
    this.groups.clear();
    for (const [name, members] of Object.entries(session.groups || {})) this.setGroup(name, members, false);
    this.changed();
  }

  presence(p) {
    if (p.state === "removed") { this.people.delete(p.user); this.changed(); return; }
    const state = p.connections > 0 ? "online" : p.state === "dropped" ? "reconnecting" : "offline";
    this.person(p.user, { name: p.name || p.user, role: p.role, connections: p.connections,
                          device: p.device || "", state, lastSeen: Date.now() });
    this.changed();
  }

  helpQueue(queue) {
    for (const p of this.people.values()) p.hand = null;
    for (const r of queue) {
      this.person(r.user_id, { name: r.name }).hand = { id: r.id, kind: r.kind, text: r.text, since: r.created_at_ms };
    }
    this.changed();
  }

  confused(p) {
    this.person(p.user, { name: p.name || p.user }).confused = { at: Date.now(), detail: p.detail || "" };
    this.changed();
  }

  openQuestion(q) {
    this.question = q;
    for (const p of this.people.values()) p.answer = null;
    this.changed();
  }

  closeQuestion(id) {
    if (this.question && this.question.id === id) this.question = { ...this.question, status: "closed" };
    this.changed();
  }

  answer(p) {
    if (!this.question || p.question_id !== this.question.id) return;
    const person = this.person(p.user || p.user_id, { name: p.name });
    person.answer = { ...(person.answer || {}), answer_id: p.answer_id, choice: p.choice ?? person.answer?.choice ?? null,
                      text: p.text ?? person.answer?.text ?? null };
    if ("correct" in p) { person.answer.correct = p.correct; person.answer.evaluated = true; person.answer.score = p.score; }
    this.changed();
  }

  quality(p) {
    this.person(p.user).rung = p.rung;
    this.person(p.user).reason = p.reason || "";
    this.changed();
  }

  viewers(list) {
    for (const v of list) {
      if (!this.people.has(v.user)) continue;
      const p = this.people.get(v.user);
      p.rung = (v.video && v.video.rung) || v.effective || p.rung;
      p.link = v.link || null;
      p.reason = v.reason || p.reason;
    }
    this.changed();
  }

  setGroup(name, members, notify = true) {
    const set = new Set(members);
    if (set.size) this.groups.set(name, set); else this.groups.delete(name);
    for (const p of this.people.values()) {
      if (set.has(p.id)) p.group = name;
      else if (p.group === name) p.group = "";
    }
    if (notify) this.changed();
  }

  muted(user, muted) { this.person(user).muted = muted; this.changed(); }

  isConfused(p, now = Date.now()) { return p.confused && now - p.confused.at < CONFUSED_FOR_MS; }

  /** Students the open question is for (its group, or everyone). */
  audience() {
    const q = this.question;
    const group = q && q.to && q.to.group;
    return this.students().filter((p) => !group || (this.groups.get(group) || new Set()).has(p.id));
  }

  summary() {
    const students = this.students();
    const now = Date.now();
    let online = 0; let hands = 0; let answered = 0; let confused = 0;
    for (const p of students) {
      if (p.state === "online") online += 1;
      if (p.hand) hands += 1;
      if (p.answer) answered += 1;
      if (this.isConfused(p, now)) confused += 1;
    }
    // The group may have been dissolved since: never fewer asked than answered.
    const asked = this.question ? Math.max(this.audience().length, answered) : 0;
    return { total: students.length, online, hands, answered, confused, asked };
  }
}
