// The supervisor's floor: live calls, queues, agents and alerts on one page, pushed over
// /api/floor/events (the current state first, then each change), and listen / whisper /
// barge on a call through the supervisor's own phone: this page's (it connects without
// ringing) or their desk phone.
import { useEffect, useState } from "preact/hooks";
import { api, clock, dur, errorText, html, Level, liveSocket, StatePill, useNow, words } from "./lib.js";
import { Phone, usePhone } from "./phone.js";

function MonitorButtons({ call, me, onError }) {
  const m = call.monitor;
  const mine = m && m.supervisor === me.user;
  const go = (mode) => {
    const req = !m ? api("POST", `/api/calls/${call.call_id}/monitor`, { mode }) : api("PATCH", `/api/calls/${call.call_id}/monitor`, { mode });
    req.catch((e) => onError(errorText(e)));
  };
  const stop = () => api("DELETE", `/api/calls/${call.call_id}/monitor`).catch((e) => onError(errorText(e)));
  if (call.where !== "agent") return html`<span class="muted">–</span>`;
  if (m && !mine) return html`<span class="muted">${m.supervisor} ${m.mode}</span>`;
  return html`<span class="mon">
    ${["listen", "whisper", "barge"].map((mode) => html`<button class=${"small" + (m && m.mode === mode ? " on" : "")} onClick=${() => go(mode)} aria-pressed=${!!(m && m.mode === mode)}>${mode}</button>`)}
    ${m && html`<button class="small ghost" onClick=${stop}>stop</button> <span class="muted">${m.state}</span>`}
  </span>`;
}

function Calls({ floor, me, now, onError }) {
  return html`<section aria-label="live calls"><h3>Live calls <span class="count">${floor.calls.length}</span></h3>
    <table class="grid"><thead><tr><th>Caller</th><th>Line</th><th>Tier</th><th>Where</th><th>Intent</th><th>Time</th><th>Radar</th><th>Supervise</th></tr></thead>
    <tbody>${floor.calls.map((c) => html`<tr class=${c.escalating ? "flag" : ""} data-call=${c.call_id}>
      <td><a href=${"/console/calls/" + encodeURIComponent(c.call_id)}>${c.caller_name || c.caller || "unknown"}</a></td>
      <td>${c.line || c.called}</td>
      <td>${c.tier}</td>
      <td>${c.where === "agent" ? html`agent <b>${c.agent}</b>` : c.where === "queue" ? html`queue <b>${c.queue}</b>${c.ringing ? html` <span class="muted">ringing ${c.ringing}</span>` : ""}` : html`node <b>${c.node}</b>`}</td>
      <td>${words(c.intent)}</td><td>${dur(now - c.started_at)}</td>
      <td><${Level} level=${c.radar.level} />${c.radar.anger != null ? html` <span class="muted">${Math.round(c.radar.anger * 100)}</span>` : ""}</td>
      <td><${MonitorButtons} call=${c} me=${me} onError=${onError} /></td></tr>`)}</tbody></table>
    ${!floor.calls.length && html`<p class="muted">No calls right now.</p>`}
  </section>`;
}

function Queues({ floor, now }) {
  return html`<section aria-label="queues"><h3>Queues</h3>
    ${floor.queues.map((q) => html`<div class="queue" data-queue=${q.name}>
      <h4>${q.name} <span class="count">${q.waiting.length} waiting</span>
        <span class="muted">longest ${dur(q.waiting.length ? Math.max(...q.waiting.map((w) => now - (floor.at - w.wait_s))) : 0)} · service level ${q.service_level == null ? "–" : Math.round(q.service_level * 100) + "%"} (${floor.service_level_s} s)</span></h4>
      ${q.waiting.length ? html`<table class="grid"><thead><tr><th>Call</th><th>Waiting</th><th>Priority</th><th>State</th><th>Why</th></tr></thead><tbody>
        ${q.waiting.map((w) => html`<tr class=${now - (floor.at - w.wait_s) > floor.service_level_s ? "late" : ""}><td><a href=${"/console/calls/" + encodeURIComponent(w.call_id)}>${w.call_id.slice(-10)}</a></td><td>${dur(now - (floor.at - w.wait_s))}</td><td>${w.priority}</td><td>${words(w.state)}${w.agent ? " → " + w.agent : ""}</td><td>${w.reasons.join(", ")}</td></tr>`)}
      </tbody></table>` : ""}
    </div>`)}
    ${!floor.queues.length && html`<p class="muted">No queues.</p>`}
  </section>`;
}

function Agents({ floor, now }) {
  return html`<section aria-label="agents"><h3>Agents</h3>
    <table class="grid"><thead><tr><th>Agent</th><th>State</th><th>For</th><th>Skills</th></tr></thead>
    <tbody>${floor.agents.map((a) => html`<tr><td>${a.name}</td><td><${StatePill} state=${a.state} />${a.reason ? " " + a.reason : ""}</td><td>${dur(now - a.since)}</td><td>${a.skills.join(", ")}</td></tr>`)}</tbody></table>
  </section>`;
}

function Alerts({ floor }) {
  return html`<section aria-label="alerts" class="alerts"><h3>Alerts <span class="count">${floor.alerts.length}</span></h3>
    ${floor.alerts.length ? html`<ul>${floor.alerts.map((a) => html`<li class=${"alert-" + a.kind}>${a.call_id ? html`<a href=${"/console/calls/" + encodeURIComponent(a.call_id)}>${a.text}</a>` : a.text}</li>`)}</ul>` : html`<p class="muted">All quiet.</p>`}
  </section>`;
}

function Ended() {
  const [calls, setCalls] = useState([]);
  useEffect(() => {
    const load = () => api("GET", "/api/calls?limit=15").then((d) => setCalls(d.calls.filter((c) => c.status === "ended"))).catch(() => {});
    load();
    const t = setInterval(load, 10000);
    return () => clearInterval(t);
  }, []);
  return html`<section aria-label="recent calls"><h3>Recent calls</h3>
    <table class="grid"><thead><tr><th>Start</th><th>Caller</th><th>Tier</th><th>Outcome</th><th>Length</th><th>Radar</th></tr></thead>
    <tbody>${calls.map((c) => html`<tr><td>${clock(c.started_at)}</td><td><a href=${"/console/calls/" + encodeURIComponent(c.id)}>${c.caller_name || c.caller || "unknown"}</a></td><td>${c.tier}</td><td>${words(c.outcome)}</td><td>${dur((c.duration_ms || 0) / 1000)}</td><td><${Level} level=${c.affect_level} /></td></tr>`)}</tbody></table>
  </section>`;
}

export function FloorView({ me }) {
  const [floor, setFloor] = useState(null);
  const [link, setLink] = useState("connecting");
  const [error, setError] = useState("");
  const now = useNow();
  const phone = usePhone(me, null);  // listen / whisper / barge connect here (or on the desk phone)
  useEffect(() => liveSocket("/api/floor/events", (m) => m.type === "floor" && setFloor(m), (s, why) => setLink(s === "refused" ? "refused: " + why : s)), []);
  if (!floor) return html`<main><p class=${"link link-" + link.split(":")[0]}>live: ${link}</p></main>`;
  const waiting = floor.queues.reduce((n, q) => n + q.waiting.length, 0);
  const free = floor.agents.filter((a) => a.state === "available").length;
  return html`<main class="floor">
    <section class="kpis" aria-label="summary">
      <div><b>${floor.calls.length}</b> live calls</div><div><b>${waiting}</b> waiting</div>
      <div><b>${free}</b> of ${floor.agents.filter((a) => a.state !== "logged_out").length} agents free</div>
      <div class=${floor.alerts.length ? "hot" : ""}><b>${floor.alerts.length}</b> alerts</div>
      <p class=${"link link-" + link.split(":")[0]}>live: ${link}</p>
    </section>
    ${error && html`<p class="error" role="alert" onClick=${() => setError("")}>${error}</p>`}
    <${Phone} phone=${phone} />
    <div class="floorgrid">
      <div class="main"><${Calls} floor=${floor} me=${me} now=${now} onError=${setError} /><${Queues} floor=${floor} now=${now} /><${Ended} /></div>
      <div class="side"><${Alerts} floor=${floor} /><${Agents} floor=${floor} now=${now} /></div>
    </div>
  </main>`;
}
