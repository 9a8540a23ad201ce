// The operator's dashboard: containment (and re-dial-corrected), the tier split against 80/15/5,
// what callers ask, queues, the radar by hour, pain points and the KB's effect; CSV per table.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { api, errorText, html, words } from "./lib.js";

const pct = (x) => (x == null ? "–" : `${(x * 100).toFixed(1)}%`);

function Bars({ labels, series, height = 170, label }) {
  const el = useRef(null);
  useEffect(() => {
    if (!el.current || labels.length === 0) return;
    const css = getComputedStyle(document.documentElement);
    const colours = [css.getPropertyValue("--accent"), css.getPropertyValue("--warm"), css.getPropertyValue("--ok")];
    const xs = labels.map((_, i) => i);
    const plot = new uPlot({
      width: el.current.clientWidth || 400, height,
      scales: { x: { time: false } },
      axes: [{ values: (u, v) => v.map((i) => labels[i] ?? ""), stroke: css.getPropertyValue("--muted") }, { stroke: css.getPropertyValue("--muted") }],
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: colours[i % 3], fill: colours[i % 3] + "55", paths: uPlot.paths.bars({ size: [0.6] }) }))],
    }, [xs, ...series.map((s) => s.values)], el.current);
    return () => plot.destroy();
  }, [JSON.stringify(labels), JSON.stringify(series)]);
  return html`<div class="radar" ref=${el} role="img" aria-label=${label}></div>`;
}

const csv = (name, days) => html`<a class="link" href=${`/api/report/${name}.csv?days=${days}`}>CSV</a>`;

export function DashboardView() {
  const [days, setDays] = useState(7);
  const [r, setR] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => { setR(null); api("GET", `/api/report?days=${days}`).then(setR).catch((e) => setError(errorText(e))); }, [days]);
  if (error) return html`<main><p class="error" role="alert">${error}</p></main>`;
  if (!r) return html`<main><p class="boot">Loading…</p></main>`;
  const tiers = ["L1", "L2", "L3"];
  const hours = Object.keys(r.escalation_by_hour);
  return html`<main class="dashboard">
    <section class="kpis" aria-label="headline">
      <label>Period <select value=${days} onChange=${(e) => setDays(Number(e.target.value))}>${[1, 7, 30, 90].map((d) => html`<option value=${d}>${d === 1 ? "today" : `${d} days`}</option>`)}</select></label>
      <span><b data-kpi="calls">${r.calls}</b> calls</span>
      <span><b data-kpi="containment">${pct(r.containment)}</b> contained <span class="muted">(${pct(r.containment_redial_corrected)} re-dial corrected)</span></span>
      ${tiers.map((t) => html`<span class=${Math.abs(r.tiers[t] - r.tier_target[t]) > 0.05 ? "hot" : ""}><b data-kpi=${t}>${pct(r.tiers[t])}</b> ${t} <span class="muted">target ${pct(r.tier_target[t])}</span></span>`)}
      <span class=${r.abandon_rate > 0.1 ? "hot" : ""}><b data-kpi="abandon">${pct(r.abandon_rate)}</b> abandoned in queue</span>
      <span><b>${pct(r.escalation_rate)}</b> escalated</span>
      <span><b>${r.speed_of_answer_s.p50 ?? "–"} s</b> answer p50</span><span><b>${r.handle_time_s.p50 ?? "–"} s</b> handle p50</span>
      ${csv("summary", days)}
    </section>
    <div class="cols">
      <section class="col" aria-label="tiers"><h3>Tier split vs target ${csv("tiers", days)}</h3>
        <${Bars} label="tier split" labels=${tiers} series=${[{ label: "actual", values: tiers.map((t) => r.tiers[t]) }, { label: "target", values: tiers.map((t) => r.tier_target[t]) }]} /></section>
      <section class="col" aria-label="containment by day"><h3>Containment by day ${csv("kb_by_day", days)}</h3>
        <${Bars} label="containment by day" labels=${r.kb.by_day.map((d) => d.day.slice(5))} series=${[{ label: "containment", values: r.kb.by_day.map((d) => d.containment) }]} />
        <p class="muted">Calls answered from the KB: ${r.kb.calls_answered_from_kb} (contained ${pct(r.kb.their_containment)} vs ${pct(r.kb.other_containment)} of the rest).
          ${r.kb.approvals.length > 0 && html` Approvals: ${r.kb.approvals.map((a) => `${a.key} v${a.version} (${a.day})`).join(", ")}.`}</p></section>
    </div>
    <div class="cols">
      <section class="col" aria-label="top intents"><h3>What callers ask ${csv("top_intents", days)}</h3>
        <table class="grid"><tbody>${r.top_intents.map((i) => html`<tr><td>${words(i.intent)}</td><td>${i.calls}</td><td>${pct(i.share)}</td></tr>`)}</tbody></table>
        <h4>Not understood ${csv("unmatched", days)}</h4>
        <table class="grid small"><tbody>${r.hot_topics.unmatched.map((g) => html`<tr><td>${g.topic}</td><td>${g.calls}</td><td class="muted">${g.examples.join(" · ")}</td></tr>`)}</tbody></table></section>
      <section class="col" aria-label="queues"><h3>Queues ${csv("queues", days)}</h3>
        <table class="grid"><thead><tr><th>Queue</th><th>Offered</th><th>Answered</th><th>Abandoned</th><th>Service level (20 s)</th><th>ASA p50</th></tr></thead>
        <tbody>${r.queues.map((q) => html`<tr class=${q.service_level < 0.8 ? "late" : ""}><td>${q.queue}</td><td>${q.offered}</td><td>${q.answered}</td><td>${q.abandoned}</td><td>${pct(q.service_level)}</td><td>${q.asa_s ?? "–"} s</td></tr>`)}</tbody></table>
        <h4>Why a person ${csv("transfer_reasons", days)}</h4>
        <table class="grid small"><tbody>${r.transfer_reasons.map((t) => html`<tr><td>${t.reason}</td><td>${t.calls}</td></tr>`)}</tbody></table></section>
    </div>
    <div class="cols">
      <section class="col" aria-label="radar by hour"><h3>Escalations by hour ${csv("escalation_by_hour", days)}</h3>
        <${Bars} label="escalations by hour" labels=${hours} series=${[{ label: "escalated", values: hours.map((h) => r.escalation_by_hour[h]) }]} /></section>
      <section class="col" aria-label="pain points"><h3>Pain points ${csv("pain_points", days)}</h3>
        <table class="grid"><thead><tr><th>Node</th><th>Calls lost</th><th>Abandoned</th><th>Hung up</th><th>Failed</th></tr></thead>
        <tbody>${r.pain_points.nodes.map((p) => html`<tr><td>${p.node}</td><td>${p.calls}</td><td>${p.abandoned || 0}</td><td>${p.caller_hung_up || 0}</td><td>${p.failed || 0}</td></tr>`)}</tbody></table></section>
    </div>
  </main>`;
}
