// The agent's view: their state, the screen pop of the call offered (before the phone is
// picked up), the live call (both sides' transcript, the radar, what the AI knew and did), the
// wrap-up form, and their recent calls. Live over /api/events (this agent's calls only).
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, clock, dur, errorText, html, Level, linesOf, liveSocket, RadarChart, StatePill, Transcript, UPSET, useNow, words } from "./lib.js";
import { Phone, usePhone } from "./phone.js";

const AWAY_REASONS = ["break", "lunch", "training", "meeting", "coaching"];
const DISPOSITIONS = [
  ["resolved", "Resolved"], ["follow_up", "Needs follow-up"], ["escalated", "Escalated"],
  ["callback_promised", "Callback promised"], ["not_resolved", "Not resolved"], ["wrong_queue", "Wrong queue"], ["no_action", "No action needed"],
];

function StateControl({ me, agent, onError }) {
  const [reason, setReason] = useState(AWAY_REASONS[0]);
  const set = (state) => api("POST", `/api/agents/${me.user}/state`, { state, reason: state === "away" ? reason : "" }).catch((e) => onError(errorText(e)));
  useEffect(() => {
    const key = (e) => {
      if (!e.altKey) return;
      if (e.key === "1") { e.preventDefault(); set("available"); }
      if (e.key === "2") { e.preventDefault(); set("away"); }
      if (e.key === "0") { e.preventDefault(); set("logged_out"); }
    };
    addEventListener("keydown", key);
    return () => removeEventListener("keydown", key);
  }, [reason]);
  const now = useNow();
  const st = agent ? agent.state : "unknown";
  const busy = st === "ringing" || st === "on_call";
  return html`<section class="statebar" aria-label="my state">
    <span>I am <${StatePill} state=${st} /> ${agent && html`<span class="muted">for ${dur(now - agent.since)}${agent.reason ? " · " + agent.reason : ""}</span>`}</span>
    <span class="actions">
      <button onClick=${() => set("available")} disabled=${busy || st === "available"} title="Alt+1">Available</button>
      <select aria-label="away reason" value=${reason} onChange=${(e) => setReason(e.target.value)}>${AWAY_REASONS.map((r) => html`<option value=${r}>${r}</option>`)}</select>
      <button onClick=${() => set("away")} disabled=${busy} title="Alt+2">Away</button>
      <button class="ghost" onClick=${() => set("logged_out")} disabled=${busy} title="Alt+0">Log out of queues</button>
    </span>
  </section>`;
}

function Pop({ pop, ringing }) {
  const c = pop.caller || {};
  const h = pop.history || {};
  const intent = pop.intent || {};
  const vars = Object.entries(pop.vars || {}).filter(([k]) => !k.startsWith("_"));
  return html`<section class=${"pop" + (ringing ? " ringing" : "")} aria-label="caller" data-call=${pop.call_id}>
    <header>
      <h2>${ringing ? "Ringing: " : ""}${c.name || c.number || "Unknown caller"}</h2>
      ${c.tier && html`<span class=${"tag tier-" + c.tier}>${c.tier}</span>`}
      ${(pop.reasons || []).map((r) => html`<span class="tag">${r}</span>`)}
      <${Level} level=${(pop.affect || {}).level} />
    </header>
    <dl class="facts">
      <dt>Number</dt><dd>${c.number || "withheld"}</dd>
      ${c.account && html`<dt>Account</dt><dd>${c.account}</dd>`}
      <dt>Queue</dt><dd>${pop.queue} · priority ${pop.priority} · waited ${dur(pop.waited_s)}</dd>
      <dt>Wants</dt><dd class="wants">${intent.name && intent.name !== "none" ? html`<b>${words(intent.name)}</b>${intent.confidence != null ? html` <span class="muted">(${Math.round(intent.confidence * 100)}%)</span>` : ""}` : html`<span class="muted">no intent</span>`}</dd>
      <dt>Request</dt><dd class="request">${(pop.transcript || []).slice(-3).join(" / ") || html`<span class="muted">nothing said</span>`}</dd>
      <dt>Summary</dt><dd>${pop.summary || "–"}</dd>
      <dt>Why a person</dt><dd>${pop.reason || "–"}</dd>
      <dt>Past calls</dt><dd>${h.count ? `${h.count} in ${h.days} days; last ${h.last_days_ago} days ago${h.last_intent ? ", about " + words(h.last_intent) : ""} (${words(h.last_outcome)})` : "none in 30 days"}</dd>
    </dl>
    <details open><summary>What the AI did</summary>
      <p class="path">${(pop.path || []).map((n) => html`<span class="chip">${n}</span>`)}</p>
      ${vars.length ? html`<table class="kv"><tbody>${vars.map(([k, v]) => html`<tr><th>${words(k)}</th><td>${typeof v === "object" ? JSON.stringify(v) : String(v)}</td></tr>`)}</tbody></table>` : html`<p class="muted">No lookups.</p>`}
    </details>
  </section>`;
}

function WrapUpForm({ me, callId, onDone }) {
  const [disposition, setDisposition] = useState("resolved");
  const [upset, setUpset] = useState("");
  const [note, setNote] = useState("");
  const [toKb, setToKb] = useState(false);
  const [question, setQuestion] = useState("");
  const [answer, setAnswer] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const first = useRef(null);
  useEffect(() => { first.current && first.current.focus(); }, [callId]);
  const submit = async (ev) => {
    ev && ev.preventDefault();
    setError("");
    if ((disposition === "resolved" || disposition === "follow_up") && !note.trim()) { setError("Write a resolution note: what the caller needed and what was done."); return; }
    if (toKb && (question.trim().length < 8 || answer.trim().length < 8)) { setError("A knowledge-base entry needs the caller's question and the answer (8 characters or more each)."); return; }
    setBusy(true);
    try {
      await api("POST", `/api/agents/${me.user}/wrapup`, { call_id: callId, disposition, note, kb: toKb ? { question, answer } : null, available: true, upset: upset || null });
      onDone();
    } catch (e) { setError(errorText(e)); setBusy(false); }
  };
  const keys = (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) submit(e); };
  return html`<form class="wrapup" onSubmit=${submit} onKeyDown=${keys} aria-label="wrap-up">
    <h3>Wrap-up <span class="muted">call ${callId}</span></h3>
    <label>Disposition <select ref=${first} name="disposition" value=${disposition} onChange=${(e) => setDisposition(e.target.value)}>${DISPOSITIONS.map(([v, t]) => html`<option value=${v}>${t}</option>`)}</select></label>
    <label>Caller upset? <select name="upset" value=${upset} onChange=${(e) => setUpset(e.target.value)}>${UPSET.map(([v, t]) => html`<option value=${v}>${t}</option>`)}</select></label>
    <label>Resolution note <textarea name="note" rows="3" value=${note} onInput=${(e) => setNote(e.target.value)} placeholder="What the caller needed and what was done"></textarea></label>
    <label class="check"><input type="checkbox" name="kb" checked=${toKb} onChange=${(e) => setToKb(e.target.checked)} /> Add to knowledge base</label>
    ${toKb && html`<label>Question, as callers ask it <input name="kb_question" value=${question} onInput=${(e) => setQuestion(e.target.value)} /></label>
      <label>The answer that worked <textarea name="kb_answer" rows="2" value=${answer} onInput=${(e) => setAnswer(e.target.value)}></textarea></label>`}
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <button type="submit" disabled=${busy} title="Ctrl+Enter">Submit and go available</button>
  </form>`;
}

function Recent({ me, version, onWrap }) {
  const [calls, setCalls] = useState([]);
  useEffect(() => { api("GET", `/api/agents/${me.user}/calls?limit=10`).then((d) => setCalls(d.calls)).catch(() => {}); }, [version]);
  return html`<section aria-label="recent calls"><h3>Recent calls</h3>
    <table class="grid"><thead><tr><th>When</th><th>Caller</th><th>Intent</th><th>Length</th><th>Radar</th><th>Disposition</th></tr></thead>
    <tbody>${calls.map((c) => html`<tr><td>${clock(c.started_at)}</td><td>${c.caller_name || c.caller}</td><td>${words(c.intent)}</td><td>${dur((c.duration_ms || 0) / 1000)}</td><td><${Level} level=${c.affect_level} /></td>
      <td>${c.disposition ? words(c.disposition) : c.status === "ended" ? html`<button class="small" onClick=${() => onWrap(c.id)}>Wrap up</button>` : "on call"}</td></tr>`)}</tbody></table>
    ${!calls.length && html`<p class="muted">No calls yet.</p>`}
  </section>`;
}

export function AgentView({ me }) {
  const [agent, setAgent] = useState(null);
  const [pop, setPop] = useState(null);
  const [events, setEvents] = useState([]);
  const [ended, setEnded] = useState(null);
  const [wrapFor, setWrapFor] = useState(null);
  const [link, setLink] = useState("connecting");
  const [error, setError] = useState("");
  const [version, setVersion] = useState(0);
  const phone = usePhone(me, agent);
  useEffect(() => liveSocket("/api/events", (m) => {
    if (m.type === "agent") setAgent(m);
    else if (m.type === "offer") { setPop(m); setEvents([]); setEnded(null); }
    else if (m.type === "call_update") setEvents((old) => old.concat(m.events));
    else if (m.type === "call_end") { setEnded(m); setWrapFor(m.call_id); setVersion((v) => v + 1); }
  }, (s, why) => setLink(s === "refused" ? "refused: " + why : s)), []);
  const lines = useMemo(() => linesOf(events), [events]);
  const radar = useMemo(() => events.filter((e) => e.type === "affect"), [events]);
  const ringing = agent && agent.state === "ringing" && pop && !ended;
  return html`<main class="agent">
    <${StateControl} me=${me} agent=${agent} onError=${setError} />
    <p class=${"link link-" + link.split(":")[0]}>live: ${link}</p>
    <${Phone} phone=${phone} callId=${pop && !ended ? pop.call_id : ""} />
    ${error && html`<p class="error" role="alert" onClick=${() => setError("")}>${error}</p>`}
    <div class="cols">
      <div class="col">
        ${pop ? html`<${Pop} pop=${pop} ringing=${ringing} />` : html`<section class="pop idle"><p class="muted">No call. ${agent && agent.state === "available" ? "Waiting for the next caller." : "Go available to take calls."}</p></section>`}
        ${wrapFor && html`<${WrapUpForm} me=${me} callId=${wrapFor} onDone=${() => { setWrapFor(null); setPop(null); setEvents([]); setEnded(null); setVersion((v) => v + 1); }} />`}
      </div>
      <div class="col">
        <section class="live" aria-label="live call">
          <h3>${pop ? (ended ? `Call ended (${words(ended.outcome)})` : "Live call") : "Live call"} ${radar.length ? html`<${Level} level=${radar[radar.length - 1].level} />` : ""}</h3>
          ${ended && ended.outcome === "interrupted" && ended.end_reason ? html`<p class="error" role="alert">The caller was lost: ${ended.end_reason}</p>` : ""}
          <${RadarChart} points=${radar} />
          <${Transcript} lines=${lines} live=${!ended} />
        </section>
        <${Recent} me=${me} version=${version} onWrap=${setWrapFor} />
      </div>
    </div>
  </main>`;
}
