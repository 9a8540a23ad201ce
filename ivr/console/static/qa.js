// QA: the review queue (the day's riskiest calls, plus the random audit share) and, on a call's
// page, its flags with evidence and the admin's review form.
import { useEffect, useState } from "preact/hooks";
import { api, clock, dur, errorText, html, UPSET, words } from "./lib.js";

const pct = (x) => (x == null ? "–" : `${Math.round(x * 100)}%`);

export function QaView() {
  const [data, setData] = useState(null);
  const [error, setError] = useState("");
  const [reviewed, setReviewed] = useState(false);
  useEffect(() => {
    api("GET", `/api/qa/queue${reviewed ? "?reviewed=true" : ""}`).then(setData).catch((e) => setError(errorText(e)));
  }, [reviewed]);
  if (error) return html`<main><p class="error" role="alert">${error}</p></main>`;
  if (!data) return html`<main><p class="boot">Loading…</p></main>`;
  const a = data.agreement;
  return html`<main>
    <section class="kpis" aria-label="agreement">
      <span><b>${data.calls.length}</b> to review</span>
      <span><b>${a.reviews}</b> reviewed</span>
      <span class=${a.agreement != null && a.agreement < 0.8 ? "hot" : ""}><b>${pct(a.agreement)}</b> reviewer/AI agreement</span>
      <span><b>${a.disagree}</b> disagreements</span>
      ${Object.keys(a.wrong_flags).length > 0 && html`<span class="muted">flags called wrong: ${Object.entries(a.wrong_flags).map(([k, v]) => `${words(k)} ×${v}`).join(", ")}</span>`}
      <label class="link"><input type="checkbox" checked=${reviewed} onChange=${(e) => setReviewed(e.target.checked)} /> show reviewed</label>
    </section>
    <section aria-label="review queue"><h3>Review queue</h3>
      ${data.calls.length === 0 ? html`<p class="muted">Nothing to review.</p>` : html`<table class="grid"><thead><tr>
        <th>Risk</th><th>Call</th><th>Started</th><th>Length</th><th>Outcome</th><th>Why drawn</th><th>Flags</th><th>Review</th></tr></thead>
        <tbody>${data.calls.map((c) => html`<tr class=${c.score >= 0.5 ? "flag" : ""}>
          <td><b>${c.score.toFixed(2)}</b></td>
          <td><a href=${`/console/calls/${encodeURIComponent(c.call_id)}`}>${c.caller_name || c.caller || c.call_id}</a></td>
          <td>${c.day} ${clock(c.started_at)}</td><td>${dur((c.duration_ms || 0) / 1000)}</td><td>${words(c.outcome)}</td>
          <td>${c.sample_reason}</td><td>${c.flags.map((f) => html`<span class="chip" title=${f.evidence}>${words(f.name)}</span>`)}</td>
          <td>${c.review}</td></tr>`)}</tbody></table>`}
    </section>
  </main>`;
}

export function QaPanel({ callId, mark, onLabelled }) {
  const [upset, setUpset] = useState("");
  const [result, setResult] = useState(null);
  const [form, setForm] = useState(null);
  const [answers, setAnswers] = useState({});
  const [wrong, setWrong] = useState([]);
  const [comment, setComment] = useState("");
  const [msg, setMsg] = useState("");
  const load = () => api("GET", `/api/qa/calls/${encodeURIComponent(callId)}`).then(setResult).catch((e) => setMsg(e.status === 404 ? "Not screened yet." : errorText(e)));
  useEffect(() => { load(); api("GET", "/api/qa/form").then(setForm).catch(() => {}); }, [callId]);
  if (!result) return html`<section aria-label="qa"><h3>QA</h3><p class="muted">${msg || "Loading…"}</p></section>`;
  const submit = async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("POST", `/api/qa/calls/${encodeURIComponent(callId)}/review`, { answers, comment, wrong_flags: wrong });
      if (upset) {  // the radar's label: kept with the call's utterances' cues
        await api("POST", `/api/calls/${encodeURIComponent(callId)}/upset`, { label: upset, started_ms: upset === "neither" ? null : mark, source: "qa" });
        onLabelled && onLabelled();
      }
      setMsg(`Reviewed: ${pct(r.score)} — ${r.agrees ? "agrees with" : "disagrees with"} the AI (risk ${r.ai_score.toFixed(2)}).`);
      setAnswers({}); setComment(""); setWrong([]); setUpset(""); load();
    } catch (e) { setMsg(errorText(e)); }
  };
  const set = (id, v) => setAnswers({ ...answers, [id]: v });
  return html`<section aria-label="qa"><h3>QA · risk ${result.score.toFixed(2)} · ${result.review || "not drawn"} ${result.sample_reason && `(${result.sample_reason})`}</h3>
    ${result.flags.length === 0 ? html`<p class="muted">No flags.</p>` : html`<table class="grid small"><tbody>${result.flags.map((f) => html`<tr>
      <td><b>${words(f.name)}</b></td><td>${f.weight.toFixed(2)}</td><td>${f.evidence}</td><td>${f.t_ms != null ? dur(f.t_ms / 1000) : ""}</td>
      <td><label class="check"><input type="checkbox" checked=${wrong.includes(f.name)} onChange=${(e) => setWrong(e.target.checked ? [...wrong, f.name] : wrong.filter((x) => x !== f.name))} /> wrong</label></td></tr>`)}</tbody></table>`}
    ${result.reviews.map((r) => html`<p class="muted">Reviewed by ${r.reviewer}: ${pct(r.score)} (${r.agrees ? "agrees" : "disagrees"} with the AI)${r.comment ? ` — ${r.comment}` : ""}</p>`)}
    ${form && html`<form class="wrapup" aria-label="review form" onSubmit=${submit}><h4>${form.name}</h4>
      ${form.questions.map((q) => html`<label>${q.text}
        ${q.type === "yes_no"
          ? html`<select name=${q.id} value=${answers[q.id] ?? ""} onChange=${(e) => set(q.id, e.target.value || null)}><option value="">–</option><option value="yes">yes</option><option value="no">no</option><option value="n/a">n/a</option></select>`
          : html`<select name=${q.id} value=${answers[q.id] ?? ""} onChange=${(e) => set(q.id, e.target.value ? Number(e.target.value) : null)}><option value="">–</option>${Array.from({ length: q.scale }, (_, i) => html`<option value=${i + 1}>${i + 1}</option>`)}</select>`}</label>`)}
      <label>Caller upset? <select name="upset" value=${upset} onChange=${(e) => setUpset(e.target.value)}>${UPSET.map(([v, t]) => html`<option value=${v}>${t}</option>`)}</select></label>
      ${upset && upset !== "neither" && html`<p class="muted" aria-label="where it started">${mark != null ? `Started at ${dur(mark / 1000)} (marked in the transcript).` : "Where did it start? Mark the caller's line in the transcript (optional)."}</p>`}
      <label>Comment <textarea name="comment" rows="2" value=${comment} onInput=${(e) => setComment(e.target.value)}></textarea></label>
      <button type="submit">Submit review</button></form>`}
    ${msg && html`<p role="status">${msg}</p>`}
  </section>`;
}
