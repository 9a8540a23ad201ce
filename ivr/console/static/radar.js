// The radar learns: the labelled calls, the false-alarm budget, a retraining's before/after on
// held-out labelled calls (or the reason it was refused), and the versions: approve one (the next
// call uses it), reject it, roll back to the one before. Admins decide; supervisors look.
import { useEffect, useState } from "preact/hooks";
import { api, clock, errorText, html } from "./lib.js";

const pct = (x) => (x == null || Number.isNaN(x) ? "–" : `${Math.round(x * 100)}%`);
const today = () => new Date().toISOString().slice(0, 10);
const monthAgo = () => new Date(Date.now() - 30 * 86400e3).toISOString().slice(0, 10);

function Figures({ out }) {
  if (!out.before) return null;
  const row = (name, f) => html`<tr><th>${name}</th><td>${f.uar.toFixed(3)}</td><td>${pct(f.angry_caught)}</td><td>${pct(f.anxious_caught)}</td><td>${f.false_per_100}</td></tr>`;
  return html`<table class="grid" aria-label="before and after"><thead><tr><th>held-out calls: ${out.held_out_calls} (${out.before.upset_calls} upset, ${out.before.calm_calls} calm)</th>
    <th>UAR</th><th>angry caught</th><th>anxious caught</th><th>false alarms / 100 calm</th></tr></thead>
    <tbody>${row(`live (version ${out.live_version}), as it runs`, out.before)}${out.before_at_budget && row("live, its threshold set for the budget", out.before_at_budget)}${row("retrained, for the budget", out.after)}</tbody></table>
    <p class="muted">Held out: a third of each label's calls, not trained on. Trained on ${out.train_calls} calls; escalates at ${out.thresholds.escalate_on} (set for the budget on the training calls)${out.encoder_weight != null ? `; the encoder's share ${out.encoder_weight}` : ""}. A new version must beat the live one at the same budget on ${Math.round((out.confidence || 0) * 100)}% of resamples (90% needed).</p>`;
}

export function RadarView({ me }) {
  const [state, setState] = useState(null);
  const [since, setSince] = useState(monthAgo());
  const [budget, setBudget] = useState("");
  const [out, setOut] = useState(null);
  const [msg, setMsg] = useState("");
  const [busy, setBusy] = useState(false);
  const admin = me.role === "admin";
  const load = () => api("GET", "/api/radar").then((s) => { setState(s); setBudget(String(s.budget)); }).catch((e) => setMsg(errorText(e)));
  useEffect(() => { load(); }, []);
  const act = async (fn) => { setMsg(""); setBusy(true); try { await fn(); } catch (e) { setMsg(errorText(e)); } finally { setBusy(false); load(); } };
  const retrain = (dry) => act(async () => {
    const r = await api("POST", "/api/radar/retrain", { since, dry_run: dry });
    setOut(r);
    setMsg(r.accepted ? (r.version ? `Proposed as version ${r.version}: approve it to make it live.` : "Better on the held-out calls (dry run: nothing kept).") : `Refused: ${r.reason}`);
  });
  const saveBudget = () => act(async () => { const r = await api("PUT", "/api/radar/budget", { false_alarms_per_100: Number(budget) }); setMsg(`Budget: ${r.budget} false alarms per 100 calm calls.`); });
  const decide = (v, what) => act(async () => { await api("POST", `/api/radar/versions/${v}/${what}`); setMsg(what === "approve" ? `Version ${v} is live: the next call uses it.` : `Version ${v} rejected.`); setOut(null); });
  const rollback = () => act(async () => { const r = await api("POST", "/api/radar/rollback"); setMsg(`Rolled back: ${r.live_version ? "version " + r.live_version : "the shipped model"} is live.`); });
  if (!state) return html`<main><p class="boot">${msg || "Loading…"}</p></main>`;
  const l = state.labels;
  return html`<main aria-label="radar learning">
    <section class="kpis" aria-label="labels">
      <span><b>${l.angry + l.anxious}</b> upset calls labelled (${l.angry} angry, ${l.anxious} anxious)</span>
      <span><b>${l.neither}</b> calm</span>
      <span>live: <b>${state.live_version ? `version ${state.live_version}` : "as shipped"}</b></span>
      ${state.agreement.upset_calls > 0 && html`<span data-kpi="caught">the radar escalated <b>${pct(state.agreement.upset_escalated)}</b> of the upset calls as they ran</span>`}
      ${state.agreement.calm_calls > 0 && html`<span data-kpi="false">and <b>${state.agreement.false_per_100}</b> per 100 calm ones</span>`}
    </section>
    <section aria-label="retrain"><h3>Retrain on labelled calls</h3>
      <div class="actions">
        <label>Labelled since <input type="date" name="since" value=${since} max=${today()} onInput=${(e) => setSince(e.target.value)} /></label>
        <label>False alarms per 100 calm calls <input name="budget" type="number" min="0" max="50" step="0.5" value=${budget} disabled=${!admin} onInput=${(e) => setBudget(e.target.value)} /></label>
        ${admin && html`<button class="ghost" disabled=${busy} onClick=${saveBudget}>Save budget</button>`}
        ${admin && html`<button disabled=${busy} onClick=${() => retrain(true)}>Dry run</button><button disabled=${busy} onClick=${() => retrain(false)}>Retrain</button>`}
      </div>
      ${!admin && html`<p class="muted">Retraining and approving are an admin's.</p>`}
      ${out && html`<${Figures} out=${out} />`}
      ${msg && html`<p role="status">${msg}</p>`}
    </section>
    <section aria-label="versions"><h3>Versions</h3>
      ${state.versions.length === 0 ? html`<p class="muted">None yet: the shipped model is live.</p>` : html`<table class="grid"><thead><tr>
        <th>Version</th><th>State</th><th>Labelled since</th><th>Made</th><th>Held-out UAR (live at the budget → it)</th><th>False / 100 (live as it ran → it)</th><th></th></tr></thead>
        <tbody>${state.versions.map((v) => html`<tr data-version=${v.version}><td>v${v.version}</td><td>${v.state}</td><td>${v.since}</td><td>${clock(v.created_at)} by ${v.created_by}</td>
          <td>${v.report.before ? `${(v.report.before_at_budget || v.report.before).uar.toFixed(3)} → ${v.report.after.uar.toFixed(3)}` : "–"}</td>
          <td>${v.report.before ? `${v.report.before.false_per_100} → ${v.report.after.false_per_100}` : "–"}</td>
          <td>${admin && v.state === "proposed" && html`<button class="small" disabled=${busy} onClick=${() => decide(v.version, "approve")}>Approve</button> <button class="small ghost" disabled=${busy} onClick=${() => decide(v.version, "reject")}>Reject</button>`}
            ${admin && v.state === "active" && html`<button class="small ghost" disabled=${busy} onClick=${rollback}>Roll back</button>`}</td></tr>`)}</tbody></table>`}
    </section>
  </main>`;
}
