// One call from the store: who, what happened (events), both sides' transcript, the radar,
// the agent's wrap-up, and the recording, playable in the page.
import { useEffect, useMemo, useState } from "preact/hooks";
import { QaPanel } from "./qa.js";
import { api, clock, dur, errorText, html, Level, linesOf, RadarChart, Transcript, words } from "./lib.js";

export function CallView({ callId }) {
  const [call, setCall] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    const load = () => api("GET", `/api/calls/${encodeURIComponent(callId)}`).then(setCall).catch((e) => setError(errorText(e)));
    load();
    const t = setInterval(() => { if (!call || call.status === "live") load(); }, 3000);
    return () => clearInterval(t);
  }, [callId, call && call.status]);
  const lines = useMemo(() => (call ? linesOf(call.events) : []), [call]);
  const [mark, setMark] = useState(null);
  const [labels, setLabels] = useState([]);
  const loadLabels = () => api("GET", `/api/calls/${encodeURIComponent(callId)}/upset`).then((r) => setLabels(r.labels)).catch(() => {});
  useEffect(() => { loadLabels(); }, [callId]);
  if (error) return html`<main><p class="error" role="alert">${error}</p></main>`;
  if (!call) return html`<main><p class="boot">Loading…</p></main>`;
  const w = call.wrapup;
  return html`<main class="calldetail">
    <header class="callhead"><h2>${call.caller_name || call.caller || "Unknown caller"} <span class="muted">${call.id}</span></h2>
      <span class="tag">${call.tier || "–"}</span> <span class="tag">${words(call.outcome || call.status)}</span> <${Level} level=${call.affect_level} /></header>
    <dl class="facts wide">
      <dt>Started</dt><dd>${clock(call.started_at)}</dd><dt>Length</dt><dd>${dur((call.duration_ms || 0) / 1000)}</dd>
      <dt>Line</dt><dd>${call.line || call.called || "–"}${call.line && call.called ? html` <span class="muted">${call.called}</span>` : ""}${call.language ? html` <span class="chip">${call.language}</span>` : ""}</dd>
      <dt>Queue</dt><dd>${call.queue || "–"}</dd><dt>Why a person</dt><dd>${call.transfer_reason || "–"}</dd>
      <dt>Path</dt><dd>${(call.path || []).map((n) => html`<span class="chip">${n}</span>`)}</dd>
      <dt>Intents</dt><dd>${(call.intents || []).map((i) => html`<span class="chip">${words(i.name)} ${Math.round((i.confidence || 0) * 100)}%</span>`)}</dd>
      <dt>Wrap-up</dt><dd>${w ? html`<b>${words(w.disposition)}</b> by ${w.agent}: ${w.note}` : "–"}</dd>
      <dt>Caller upset</dt><dd class="upset-labels">${labels.length ? labels.map((l) => html`<span class="chip">${l.label}${l.started_ms != null ? ` from ${dur(l.started_ms / 1000)}` : ""} (${l.source === "qa" ? "review" : "wrap-up"}, ${l.author})</span> `) : "–"}</dd>
    </dl>
    ${call.status === "ended" && html`<${QaPanel} callId=${call.id} mark=${mark} onLabelled=${loadLabels} />`}
    <section aria-label="recording"><h3>Recording</h3>
      ${call.recording_path ? html`<audio controls preload="none" src=${`/api/calls/${encodeURIComponent(call.id)}/recording`}></audio><p class="muted">left: the caller · right: what the caller heard</p>` : html`<p class="muted">No recording (purged or none made).</p>`}
    </section>
    <div class="cols">
      <section class="col" aria-label="transcript"><h3>Transcript</h3><${Transcript} lines=${lines} live=${false} onMark=${call.status === "ended" ? setMark : null} marked=${mark} /></section>
      <section class="col" aria-label="radar"><h3>Radar</h3><${RadarChart} points=${call.radar || []} height=${180} />
        <details><summary>Events (${call.events.length})</summary>
          <table class="grid small"><tbody>${call.events.map((e) => html`<tr><td>${dur(e.t_ms / 1000)}</td><td>${e.type}</td><td class="ev">${JSON.stringify(Object.fromEntries(Object.entries(e).filter(([k]) => k !== "t_ms" && k !== "type" && k !== "cues")))}</td></tr>`)}</tbody></table>
        </details>
      </section>
    </div>
  </main>`;
}
