// The knowledge base: agents' candidates with their nearest entries and candidates (merge what
// is the same question), edited and approved or rejected; live entries with how they do.
import { useEffect, useState } from "preact/hooks";
import { api, errorText, html } from "./lib.js";

function Candidate({ c, entries, onDone }) {
  const [question, setQuestion] = useState(c.question);
  const [answer, setAnswer] = useState(c.answer);
  const [into, setInto] = useState("");
  const [also, setAlso] = useState([]);
  const [msg, setMsg] = useState("");
  const approve = async () => {
    try {
      const r = await api("POST", `/api/kb/candidates/${c.id}/approve`, { question, answer: into ? null : answer, into: into || null, also });
      onDone(`Live: ${r.key} v${r.version}`);
    } catch (e) { setMsg(errorText(e)); }
  };
  const reject = async () => {
    try { await api("POST", `/api/kb/candidates/${c.id}/reject`); onDone(`Candidate ${c.id} rejected`); } catch (e) { setMsg(errorText(e)); }
  };
  return html`<article class="wrapup" aria-label=${`candidate ${c.id}`}>
    <p class="muted">#${c.id} from ${c.agent || "?"} on call ${c.call_id ? html`<a href=${`/console/calls/${encodeURIComponent(c.call_id)}`}>${c.call_id}</a>` : "–"}</p>
    <label>Question (as callers ask it) <input name="question" value=${question} onInput=${(e) => setQuestion(e.target.value)} /></label>
    <label>Answer <textarea name="answer" rows="3" value=${answer} disabled=${!!into} onInput=${(e) => setAnswer(e.target.value)}></textarea></label>
    ${c.similar.length > 0 && html`<div><span class="muted">Similar:</span> ${c.similar.map((s) => html`<span class="chip" title=${s.text}>${s.kind === "entry" ? s.ref : `#${s.ref}`} ${Math.round(s.score * 100)}%
      ${s.kind === "candidate" && html` <input type="checkbox" aria-label=${`merge candidate ${s.ref}`} checked=${also.includes(s.ref)} onChange=${(e) => setAlso(e.target.checked ? [...also, s.ref] : also.filter((x) => x !== s.ref))} />`}</span>`)}</div>`}
    <div class="actions">
      <label>Merge into <select name="into" value=${into} onChange=${(e) => setInto(e.target.value)}><option value="">(a new entry)</option>${entries.map((e) => html`<option value=${e.key}>${e.key}</option>`)}</select></label>
      <button onClick=${approve}>Approve</button><button class="ghost" onClick=${reject}>Reject</button>
    </div>
    ${msg && html`<p class="error" role="alert">${msg}</p>`}
  </article>`;
}

export function KbView() {
  const [cands, setCands] = useState(null);
  const [entries, setEntries] = useState([]);
  const [error, setError] = useState("");
  const [note, setNote] = useState("");
  const load = () => Promise.all([api("GET", "/api/kb/candidates"), api("GET", "/api/kb/entries")])
    .then(([c, e]) => { setCands(c); setEntries(e.entries); }).catch((e) => setError(errorText(e)));
  useEffect(() => { load(); }, []);
  const rollback = async (key) => {
    try { const r = await api("POST", `/api/kb/entries/${encodeURIComponent(key)}/rollback`, {}); setNote(`${key}: v${r.version} is live`); load(); } catch (e) { setNote(errorText(e)); }
  };
  if (error) return html`<main><p class="error" role="alert">${error}</p></main>`;
  if (!cands) return html`<main><p class="boot">Loading…</p></main>`;
  return html`<main class="cols">
    <section class="col" aria-label="candidates"><h3>Candidates <span class="count">${cands.candidates.length}</span> <span class="muted">(similarity: ${cands.method})</span></h3>
      ${note && html`<p role="status">${note}</p>`}
      ${cands.candidates.length === 0 ? html`<p class="muted">No candidates waiting.</p>` : cands.candidates.map((c) => html`<${Candidate} key=${c.id} c=${c} entries=${entries} onDone=${(m) => { setNote(m); load(); }} />`)}
    </section>
    <section class="col" aria-label="entries"><h3>Live entries <span class="count">${entries.length}</span></h3>
      <p class="muted">Export for a dialplan: <a href="/api/kb/export.yaml">export.yaml</a></p>
      <table class="grid"><thead><tr><th>Entry</th><th>v</th><th>Answered</th><th>Resolved</th><th>Transferred</th><th></th></tr></thead>
      <tbody>${entries.map((e) => html`<tr class=${e.uses.answered >= 3 && e.uses.resolved_share < 0.5 ? "flag" : ""}>
        <td><b>${e.key}</b><br /><span class="muted">${e.questions.join(" · ")}</span><br />${e.answer}</td><td>${e.version}</td>
        <td>${e.uses.answered}</td><td>${e.uses.resolved}</td><td>${e.uses.transferred}</td>
        <td>${e.version > 1 && html`<button class="small ghost" onClick=${() => rollback(e.key)}>Roll back</button>`}</td></tr>`)}</tbody></table>
    </section>
  </main>`;
}
