// The console: sign-in, then the view for the signed-in role. The server gates each page by the
// session's role too (an agent is never sent /console/floor); the API checks every request.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, errorText, html } from "./lib.js";
import { AgentView } from "./agent.js";
import { FloorView } from "./floor.js";
import { CallView } from "./call.js";
import { QaView } from "./qa.js";
import { KbView } from "./kb.js";
import { DashboardView } from "./dashboard.js";
import { RadarView } from "./radar.js";

const RANK = { agent: 0, supervisor: 1, admin: 2 };
const home = (role) => (RANK[role] >= 1 ? "/console/floor" : "/console/agent");

function SignIn() {
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true); setError("");
    try {
      const me = await api("POST", "/api/session", { user, password });
      const next = new URLSearchParams(location.search).get("next");
      location.assign(next && next.startsWith("/console/") ? next : home(me.role));
    } catch (e) {
      setError(e.status === 401 ? "Wrong user or password." : errorText(e));
      setBusy(false);
    }
  };
  return html`<main class="signin">
    <form onSubmit=${submit} aria-label="sign in">
      <h1>Hotline console</h1>
      <label>User <input name="user" autocomplete="username" autofocus value=${user} onInput=${(e) => setUser(e.target.value)} required /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" value=${password} onInput=${(e) => setPassword(e.target.value)} required /></label>
      <button type="submit" disabled=${busy}>Sign in</button>
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </form>
  </main>`;
}

function Shell({ me, children, wide }) {
  const out = async () => { try { await api("DELETE", "/api/session"); } finally { location.assign("/console/"); } };
  const sup = RANK[me.role] >= 1;
  return html`<div class=${"shell" + (wide ? " wide" : "")}>
    <header class="top">
      <b class="brand">Hotline</b>
      <nav>
        <a href="/console/agent" class=${location.pathname === "/console/agent" ? "on" : ""}>My calls</a>
        ${sup && [["floor", "Floor"], ["dashboard", "Dashboard"], ["qa", "QA"], ["kb", "Knowledge"], ["radar", "Radar"]].map(([p, t]) =>
          html`<a href=${`/console/${p}`} class=${location.pathname === `/console/${p}` ? "on" : ""}>${t}</a>`)}
      </nav>
      <span class="me">${me.user} · ${me.role}</span>
      <button class="ghost" onClick=${out} title="Sign out">Sign out</button>
    </header>
    ${children}
  </div>`;
}

function App() {
  const [me, setMe] = useState(null);
  const [error, setError] = useState("");
  const path = location.pathname;
  useEffect(() => {
    if (path === "/console/" || path === "/console") return;
    api("GET", "/api/me").then(setMe).catch((e) => {
      if (e.status === 401) location.assign(`/console/?next=${encodeURIComponent(path)}`);
      else setError(errorText(e));
    });
  }, []);
  if (path === "/console/" || path === "/console") return html`<${SignIn} />`;
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!me) return html`<p class="boot">Signing in…</p>`;
  if (path === "/console/agent") return html`<${Shell} me=${me}><${AgentView} me=${me} /><//>`;
  if (path === "/console/floor") return html`<${Shell} me=${me} wide><${FloorView} me=${me} /><//>`;
  if (path === "/console/dashboard") return html`<${Shell} me=${me} wide><${DashboardView} /><//>`;
  if (path === "/console/qa") return html`<${Shell} me=${me} wide><${QaView} /><//>`;
  if (path === "/console/kb") return html`<${Shell} me=${me} wide><${KbView} /><//>`;
  if (path === "/console/radar") return html`<${Shell} me=${me} wide><${RadarView} me=${me} /><//>`;
  const m = path.match(/^\/console\/calls\/(.+)$/);
  if (m) return html`<${Shell} me=${me} wide><${CallView} callId=${decodeURIComponent(m[1])} /><//>`;
  return html`<p>No such page. <a href="/console/">Sign in</a></p>`;
}

render(html`<${App} />`, document.getElementById("app"));
