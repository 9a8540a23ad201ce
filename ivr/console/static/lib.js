// Shared plumbing: the API (cookie session + CSRF header), a WebSocket that reconnects by
// itself, the radar chart, and small formatters. Nothing here talks to any host but this one.
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import uPlot from "uplot";

export const html = htm.bind(h);

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)ivr_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
  }
}

// One request to our own API; the error carries the server's words (FastAPI's `detail`).
export async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (method !== "GET") opts.headers["X-CSRF-Token"] = csrf();
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  if (r.status === 204) return null;
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, data.detail ?? r.statusText);
  return data;
}

// A readable form of a 422's list of field errors.
export function errorText(e) {
  if (e instanceof ApiError && Array.isArray(e.detail)) {
    return e.detail.map((d) => `${(d.loc || []).slice(1).join(".") || "request"}: ${d.msg}`).join("; ");
  }
  return e.message || String(e);
}

// A WebSocket to `path` that reconnects with backoff; `onMessage(msg)` for each JSON message,
// `onStatus("open"|"closed"|"refused")` as the link changes. Returns a closer.
export function liveSocket(path, onMessage, onStatus) {
  let ws = null, stopped = false, delay = 500, timer = null;
  const open = () => {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(`${proto}//${location.host}${path}`);
    ws.onopen = () => { delay = 500; onStatus && onStatus("open"); };
    ws.onmessage = (ev) => { try { onMessage(JSON.parse(ev.data)); } catch (err) { console.error(err); } };
    ws.onclose = (ev) => {
      if (stopped) return;
      if (ev.code === 4401 || ev.code === 4403) { onStatus && onStatus("refused", ev.reason); return; }
      onStatus && onStatus("closed");
      timer = setTimeout(open, delay);
      delay = Math.min(delay * 2, 8000);
    };
  };
  open();
  return () => { stopped = true; clearTimeout(timer); ws && ws.close(); };
}

export function useNow(periodMs = 1000) {
  const [now, setNow] = useState(Date.now() / 1000);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now() / 1000), periodMs);
    return () => clearInterval(t);
  }, [periodMs]);
  return now;
}

export const dur = (s) => {
  if (s == null || isNaN(s)) return "–";
  s = Math.max(0, Math.round(s));
  const m = Math.floor(s / 60), r = s % 60;
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}` : `${m}:${String(r).padStart(2, "0")}`;
};
export const clock = (epoch) => (epoch ? new Date(epoch * 1000).toLocaleTimeString([], { hour12: false }) : "–");
export const words = (s) => String(s || "").replaceAll("_", " ");

export function Level({ level }) {
  const l = level || "calm";
  return html`<span class="level level-${l}" title="radar: ${l}">${l}</span>`;
}

export function StatePill({ state }) {
  return html`<span class="pill st-${state}">${words(state)}</span>`;
}

// The radar of a call as a chart: anger and anxiety (0..1) over the call's seconds, with the
// escalation band shaded. `points`: [{t_ms, anger, anxiety, level}].
export function RadarChart({ points, height = 160 }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const width = Math.max(240, box.current.clientWidth || 320);
    const dark = matchMedia("(prefers-color-scheme: dark)").matches;
    const axis = { stroke: dark ? "#aab" : "#445", grid: { stroke: dark ? "#333a" : "#ddd8" }, ticks: { show: false } };
    plot.current = new uPlot({
      width, height, legend: { show: true }, cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false }, y: { range: [0, 1] } },
      axes: [{ ...axis, size: 28 }, { ...axis, size: 30 }],
      series: [
        { label: "s", value: (u, v) => (v == null ? "–" : v.toFixed(1) + " s") },
        { label: "anger", stroke: "#d33", width: 2, points: { show: false } },
        { label: "anxiety", stroke: "#c80", width: 2, points: { show: false } },
      ],
      hooks: { drawClear: [(u) => {
        const y0 = u.valToPos(1, "y", true), y1 = u.valToPos(0.6, "y", true);
        u.ctx.save(); u.ctx.fillStyle = dark ? "#d3333322" : "#d3333314";
        u.ctx.fillRect(u.bbox.left, y0, u.bbox.width, y1 - y0); u.ctx.restore();
      }] },
    }, [[], [], []], box.current);
    const ro = new ResizeObserver(() => plot.current && plot.current.setSize({ width: Math.max(240, box.current.clientWidth), height }));
    ro.observe(box.current);
    return () => { ro.disconnect(); plot.current.destroy(); plot.current = null; };
  }, [height]);
  useEffect(() => {
    if (!plot.current) return;
    const xs = points.map((p) => p.t_ms / 1000);
    plot.current.setData([xs, points.map((p) => p.anger), points.map((p) => p.anxiety)]);
  }, [points]);
  return html`<div class="radar" ref=${box} data-points=${points.length}></div>`;
}

// Transcript lines from a call's events: caller, agent and the IVR, in order.
// "Caller upset?" in the wrap-up and the QA review: the radar learns from the answers
export const UPSET = [["", "– not said"], ["neither", "no"], ["angry", "yes: angry"], ["anxious", "yes: anxious"]];

export function linesOf(events) {
  const out = [];
  for (const e of events) {
    if (e.type === "final_transcript" && e.text) out.push({ t_ms: e.t_ms, who: e.speaker || "caller", text: e.text, onset: e.onset_ms });
    else if (e.type === "say" && e.text) out.push({ t_ms: e.t_ms, who: "ivr", text: e.text });
    else if (e.type === "monitor") out.push({ t_ms: e.t_ms, who: "note", text: `supervisor ${e.supervisor}: ${e.mode} ${e.state}${e.reason ? " (" + e.reason + ")" : ""}` });
  }
  return out;
}

// onMark: a caller's line can be marked as where they became upset (the radar learns from it)
export function Transcript({ lines, live, onMark, marked }) {
  const end = useRef(null);
  useEffect(() => { if (live && end.current) end.current.scrollIntoView({ block: "nearest" }); }, [lines.length]);
  if (!lines.length) return html`<p class="muted">Nothing said yet.</p>`;
  const at = (l) => (l.onset != null ? l.onset : l.t_ms);
  return html`<ol class="transcript" aria-live=${live ? "polite" : "off"}>
    ${lines.map((l) => html`<li class=${`who-${l.who}${onMark && marked === at(l) && l.who === "caller" ? " marked" : ""}`}><span class="t">${dur(l.t_ms / 1000)}</span><b>${l.who}</b> <span class="text">${l.text}</span>${onMark && l.who === "caller" && html` <button type="button" class="small mark" aria-pressed=${marked === at(l) ? "true" : "false"} aria-label=${`upset from here (${dur(at(l) / 1000)})`} onClick=${() => onMark(marked === at(l) ? null : at(l))}>upset from here</button>`}</li>`)}
    <li ref=${end} class="end"></li>
  </ol>`;
}
