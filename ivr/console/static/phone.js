// The agent's phone in the page: JsSIP registers over WebSocket with a short-lived credential
// the API issues to the signed-in agent (renewed while the page is open); a call rings here
// (a tone and the screen pop), and is answered, muted, keyed and hung up with the buttons or
// keys (Alt+A answer, Alt+D decline, Alt+M mute, Alt+O hold, Alt+H hang up). On hold the
// caller hears the hotline's music; the keypad's digits reach the caller as RFC 2833 events.
import { useEffect, useRef, useState } from "preact/hooks";
import JsSIP from "jssip";
import { api, errorText, html } from "./lib.js";

const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

function ringer() {  // a phone's ring, made here: no sound file to fetch
  let ctx = null, timer = null;
  const burst = () => {
    const o = ctx.createOscillator(), g = ctx.createGain();
    o.frequency.value = 440; g.gain.value = 0.08;
    o.connect(g).connect(ctx.destination); o.start(); o.stop(ctx.currentTime + 0.8);
  };
  return {
    start() { try { ctx = ctx || new AudioContext(); burst(); timer = setInterval(burst, 2000); } catch (_) { /* no audio device */ } },
    stop() { clearInterval(timer); timer = null; },
  };
}

// only this machine's ICE candidates when the page is on 127.0.0.1 (the demo and the tests)
function localOnly(sdp) {
  if (location.hostname !== "127.0.0.1") return sdp;
  return sdp.split("\r\n").filter((l) => !l.startsWith("a=candidate") || l.includes(" 127.0.0.1 ")).join("\r\n");
}

const WHERE_KEY = "ivr.phone";  // where this agent's calls ring: "browser" (default) or "desk"

// Whether this browser gives the page a microphone (asked once at sign-in, as a desk phone's
// self-test: an agent learns it before a caller is waiting, not when they click Answer).
function micCheck() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return Promise.reject(new Error("this page is not a secure context"));
  return navigator.mediaDevices.getUserMedia({ audio: microphone(), video: false }).then((m) => m.getTracks().forEach((t) => t.stop()));
}

// The phone tells the server when it cannot take a call (not registered, reconnecting, no
// microphone): an available agent is put away ("phone: ...") and offered nothing until it can.
function useReportPhone(me, agent, where, reg, micError) {
  const working = where === "desk" || (reg === "registered" && !micError);
  const why = micError ? "no microphone" : reg;
  const state = agent && agent.state, reason = (agent && agent.reason) || "";
  useEffect(() => {
    if (!state || reg === "off" || reg === "connecting") return;
    const lost = !working && state === "available";
    const back = working && state === "away" && reason.startsWith("phone: ");
    const changed = !working && state === "away" && reason.startsWith("phone: ") && reason !== "phone: " + why;
    if (lost || back || changed) api("POST", "/api/softphone/state", { working, why: working ? "" : why }).catch(() => {});
  }, [working, why, state, reason, reg]);
}

export function usePhone(me, agent) {
  const [where, setWhere] = useState(() => localStorage.getItem(WHERE_KEY) || "browser");
  const [reg, setReg] = useState("connecting");
  const [call, setCall] = useState(null);  // {session, state, muted}
  const [error, setError] = useState("");
  const [micError, setMicError] = useState("");
  const ua = useRef(null);
  const ring = useRef(ringer());
  useReportPhone(me, agent, where, reg, micError);
  useEffect(() => {
    if (where === "desk") { setReg("desk phone"); setError(""); setMicError(""); return undefined; }  // no second phone ringing
    setReg("connecting");
    let stopped = false, renew = null;
    micCheck().then(() => { if (!stopped) setMicError(""); }).catch((e) => {
      if (!stopped) setMicError("The browser gives this page no microphone (" + (e.name || e.message) + "): allow it for this page, or choose the desk phone. No calls are offered meanwhile.");
    });
    const fetchCredential = () => api("POST", "/api/softphone/credential", {});
    const start = (c) => {
      const u = new JsSIP.UA({
        sockets: [new JsSIP.WebSocketInterface(c.ws_uri)], uri: c.sip_uri,
        authorization_user: c.username, password: c.password, register_expires: c.register_expires_s,
        session_timers: false,
      });
      let down = false;  // the socket dropped: JsSIP reconnects and registers again by itself
      u.on("connected", () => { down = false; });
      u.on("registered", () => { setReg("registered"); setError(""); });
      u.on("unregistered", () => setReg(down ? "reconnecting" : "not registered"));
      u.on("registrationFailed", (e) => { setReg("not registered"); setError("The phone could not sign in: " + e.cause); });
      u.on("disconnected", () => { down = true; setReg("reconnecting"); setError("The phone lost its connection: reconnecting (no calls are offered meanwhile)."); });
      u.on("newRTCSession", (e) => {
        if (e.originator !== "remote") return;
        const s = e.session;
        const update = (state) => setCall((old) => ({ ...(old || {}), session: s, state }));
        s.on("sdp", (x) => { if (x.originator === "local") x.sdp = localOnly(x.sdp); });
        let iceQuiet = null;  // send the offer once candidates pause, not after every interface times out
        s.on("icecandidate", (c) => { clearTimeout(iceQuiet); iceQuiet = setTimeout(c.ready, 300); });
        s.on("accepted", () => { ring.current.stop(); update("talking"); });
        s.on("confirmed", () => update("talking"));
        s.on("hold", (h) => { if (h.originator === "local") setCall((old) => (old && old.session === s ? { ...old, held: true } : old)); });
        s.on("unhold", (h) => { if (h.originator === "local") setCall((old) => (old && old.session === s ? { ...old, held: false } : old)); });
        s.on("ended", () => { ring.current.stop(); setCall(null); });
        s.on("failed", (f) => {
          ring.current.stop(); setCall(null);
          if (f.cause === JsSIP.C.causes.USER_DENIED_MEDIA_ACCESS) setMicError("The browser denied the microphone: allow it for this page to take calls. No calls are offered meanwhile.");
        });
        s.on("peerconnection", (p) => p.peerconnection.addEventListener("track", (t) => {
          const audio = document.getElementById("phone-audio");
          if (audio) audio.srcObject = t.streams[0];
        }));
        const poll = setInterval(async () => {  // the line's quality, from the browser's own counters
          if (s.isEnded()) { clearInterval(poll); return; }
          if (!s.connection) return;
          const q = { received: 0, sent: 0, lost: 0, jitter: 0, rtt: 0 };
          (await s.connection.getStats()).forEach((v) => {
            if (v.type === "inbound-rtp" && v.kind === "audio") { q.received = v.packetsReceived; q.lost = v.packetsLost; q.jitter = v.jitter || 0; }
            if (v.type === "outbound-rtp" && v.kind === "audio") q.sent = v.packetsSent;
            if (v.type === "candidate-pair" && v.nominated && v.currentRoundTripTime != null) q.rtt = v.currentRoundTripTime;
          });
          setCall((old) => (old && old.session === s ? { ...old, quality: q } : old));
        }, 2000);
        const monitor = (e.request && e.request.getHeader("X-IVR-Monitor")) || "";
        if (monitor) {  // the supervisor asked for it on the floor: it connects without ringing
          setCall({ session: s, state: "connecting", monitor: monitor.split(";")[0] });
          s.answer(answerOptions());
          return;
        }
        update("ringing");
        ring.current.start();
      });
      u.start();
      return u;
    };
    fetchCredential().then((c) => {
      if (stopped) return;
      ua.current = start(c);
      renew = setInterval(() => fetchCredential().then((n) => {
        ua.current.set("authorization_user", n.username);
        ua.current.set("password", n.password);
      }).catch((e) => {  // signed out or refused: the phone stops
        setError("The phone was signed out: " + errorText(e));
        ua.current.stop();
      }), c.renew_after_s * 1000);
    }).catch((e) => {
      if (e.status === 404) { setReg("off"); return; }  // this server has no browser phones: a desk phone
      setReg("not registered"); setError("No phone in this browser: " + errorText(e));
    });
    return () => { stopped = true; clearInterval(renew); ring.current.stop(); if (ua.current) { ua.current.stop(); ua.current = null; } };
  }, [me.user, where]);
  const choose = (w) => { localStorage.setItem(WHERE_KEY, w); setWhere(w); };
  return { reg, call, error: micError || error, setCall, where, choose };
}

function Quality({ q }) {
  if (!q) return null;
  const loss = q.received + q.lost ? (100 * q.lost) / (q.received + q.lost) : 0;
  const poor = loss > 3 || q.jitter > 0.03 || q.rtt > 0.3;
  return html`<p class=${"quality" + (poor ? " poor" : "")} data-received=${q.received} data-sent=${q.sent}>
    Line: ${poor ? html`<b>poor</b> (loss ${loss.toFixed(1)}%, jitter ${Math.round(q.jitter * 1000)} ms, round trip ${Math.round(q.rtt * 1000)} ms)` : "good"}</p>`;
}

// The microphone's level while talking: what the agent's own voice gives (a silent or wrong
// microphone shows at once), from the track the call sends.
function LevelMeter({ session }) {
  const [level, setLevel] = useState(0);
  useEffect(() => {
    const sender = session.connection && session.connection.getSenders().find((x) => x.track && x.track.kind === "audio");
    if (!sender) return undefined;
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    ctx.createMediaStreamSource(new MediaStream([sender.track])).connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(buf);
      const rms = Math.sqrt(buf.reduce((a, v) => a + v * v, 0) / buf.length);
      setLevel(Math.min(1, rms * 4));
    }, 100);
    return () => { clearInterval(timer); ctx.close(); };
  }, [session]);
  return html`<label class="level">microphone <meter aria-label="microphone level" min="0" max="1" value=${level}></meter></label>`;
}

// Which microphone answers and which speaker plays the call (kept in this browser).
function Devices({ disabled }) {
  const [devices, setDevices] = useState([]);
  const [mic, setMic] = useState(localStorage.getItem("ivr.mic") || "");
  const [speaker, setSpeaker] = useState(localStorage.getItem("ivr.speaker") || "");
  useEffect(() => {
    const list = () => navigator.mediaDevices.enumerateDevices().then(setDevices).catch(() => {});
    list();
    navigator.mediaDevices.addEventListener("devicechange", list);
    return () => navigator.mediaDevices.removeEventListener("devicechange", list);
  }, []);
  useEffect(() => {
    const audio = document.getElementById("phone-audio");
    if (audio && audio.setSinkId && speaker) audio.setSinkId(speaker).catch(() => {});
  }, [speaker]);
  const pick = (key, set) => (e) => { localStorage.setItem(key, e.target.value); set(e.target.value); };
  const named = (kind) => devices.filter((d) => d.kind === kind).map((d, i) => html`<option value=${d.deviceId}>${d.label || kind + " " + (i + 1)}</option>`);
  return html`<p class="devices">
    <label>Microphone <select aria-label="microphone" value=${mic} disabled=${disabled} onChange=${pick("ivr.mic", setMic)}>
      <option value="">default</option>${named("audioinput")}</select></label>
    <label> Speaker <select aria-label="speaker" value=${speaker} onChange=${pick("ivr.speaker", setSpeaker)}>
      <option value="">default</option>${named("audiooutput")}</select></label></p>`;
}

function microphone() {
  const mic = localStorage.getItem("ivr.mic");
  return mic ? { deviceId: { exact: mic } } : true;
}

function answerOptions() {
  return { mediaConstraints: { audio: microphone(), video: false }, pcConfig: { iceServers: [] } };
}

// Hand the caller on: to a queue's agents or to one agent by name, with a note the next agent
// hears before the caller is put through (the worker holding the call carries it out).
function Transfer({ callId, onDone }) {
  const [targets, setTargets] = useState(null);
  const [to, setTo] = useState("");
  const [note, setNote] = useState("");
  const [said, setSaid] = useState("");
  useEffect(() => { api("GET", "/api/transfer/targets").then(setTargets).catch((e) => setSaid(errorText(e))); }, []);
  const send = (ev) => {
    ev.preventDefault();
    const [kind, name] = to.split(":");
    if (!name) { setSaid("Choose a queue or an agent."); return; }
    api("POST", `/api/calls/${encodeURIComponent(callId)}/transfer`, kind === "q" ? { queue: name, note } : { agent: name, note })
      .then(() => { setSaid("Transferring to " + name + "…"); onDone(); })
      .catch((e) => setSaid(errorText(e)));
  };
  if (!targets) return html`<p class="muted">${said || "…"}</p>`;
  return html`<form class="transfer" aria-label="transfer" onSubmit=${send}>
    <label>To <select aria-label="transfer to" value=${to} onChange=${(e) => setTo(e.target.value)}>
      <option value="">choose…</option>
      <optgroup label="Queues">${targets.queues.map((q) => html`<option value=${"q:" + q.name}>${q.name}</option>`)}</optgroup>
      <optgroup label="Agents">${targets.agents.map((a) => html`<option value=${"a:" + a.name}>${a.name} (${a.state.replace("_", " ")})</option>`)}</optgroup>
    </select></label>
    <label> Note <input aria-label="note for the next agent" value=${note} maxlength="500" onInput=${(e) => setNote(e.target.value)} /></label>
    <button type="submit">Transfer</button>
    ${said && html`<span class="muted" role="status"> ${said}</span>`}
  </form>`;
}

export function Phone({ phone, callId }) {
  const [transferring, setTransferring] = useState(false);
  const { reg, call, error, setCall, where, choose } = phone;
  const s = call && call.session;
  const answer = () => s && s.answer(answerOptions());
  const decline = () => s && s.terminate({ status_code: 486, reason_phrase: "Busy Here" });
  const hangup = () => s && s.terminate();
  const hold = () => {
    if (!s) return;
    if (call.held) s.unhold(); else s.hold();  // a re-INVITE: the worker plays the caller hold music
  };
  const mute = () => {
    if (!s) return;
    if (call.muted) s.unmute({ audio: true }); else s.mute({ audio: true });
    setCall({ ...call, muted: !call.muted });
  };
  useEffect(() => {
    const key = (e) => {
      if (!e.altKey || !s) return;
      const act = { a: answer, d: decline, m: mute, o: hold, h: hangup }[e.key.toLowerCase()];
      if (act) { e.preventDefault(); act(); }
    };
    addEventListener("keydown", key);
    return () => removeEventListener("keydown", key);
  });
  if (reg === "off") return null;
  return html`<section class="phone" aria-label="phone">
    <p>Phone: <span class=${"tag phone-" + reg.replace(" ", "-")}>${reg}</span>
      ${call && html` · <b class="phone-state">${call.monitor && call.state === "talking" ? "supervising" : call.held ? "on hold" : call.state}</b>`}
      <label> · calls ring <select aria-label="where calls ring" value=${where} disabled=${!!call}
        onChange=${(e) => choose(e.target.value)}>
        <option value="browser">in this browser</option><option value="desk">on my desk phone</option></select></label></p>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <audio id="phone-audio" autoplay></audio>
    ${where === "browser" && html`<${Devices} disabled=${!!call} />`}
    ${call && call.state === "ringing" && html`<p class="actions">
      <button onClick=${answer} title="Alt+A">Answer</button>
      <button class="ghost" onClick=${decline} title="Alt+D">Decline</button></p>`}
    ${call && call.state === "talking" && html`<p class="actions">
      <button onClick=${mute} aria-pressed=${!!call.muted} title="Alt+M">${call.muted ? "Unmute" : "Mute"}</button>
      ${!call.monitor && html`<button onClick=${hold} aria-pressed=${!!call.held} title="Alt+O">${call.held ? "Take back" : "Hold"}</button>`}
      ${!call.monitor && callId && html`<button class="ghost" onClick=${() => setTransferring(!transferring)} aria-expanded=${transferring}>Transfer…</button>`}
      <button onClick=${hangup} title="Alt+H">Hang up</button></p>
      ${transferring && callId && html`<${Transfer} callId=${callId} onDone=${() => {}} />`}
      <${LevelMeter} session=${s} />
      <${Quality} q=${call.quality} />
      <p class="dtmf" aria-label="keypad">${KEYS.map((k) => html`<button class="small" onClick=${() => s.sendDTMF(k)}>${k}</button>`)}</p>`}
  </section>`;
}
