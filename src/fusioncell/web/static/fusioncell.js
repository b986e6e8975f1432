// fusioncell pages: times in the reader's own zone, and live parts that do not refresh under the reader's hand.
"use strict";

const root = document.documentElement;

// ---- times: the reader's zone (the account's, else the browser's), UTC one hover away --------------------------

function localTimes(scope) {
  const lang = root.lang || "en";
  const zone = root.dataset.timeZone;
  const parts = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  let format;
  try {
    format = new Intl.DateTimeFormat(lang, { ...parts, timeZone: zone || undefined });
  } catch (_) {
    format = new Intl.DateTimeFormat(lang, parts); // a zone this browser does not know: its own
  }
  const utc = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: "UTC" });
  const inUtc = ["UTC", "Etc/UTC", "Etc/GMT", "GMT"].includes(format.resolvedOptions().timeZone);
  for (const el of scope.querySelectorAll("time[datetime]")) {
    if (el.dataset.local) continue;
    const when = new Date(el.getAttribute("datetime"));
    if (!Number.isNaN(when.getTime())) {
      el.title = el.textContent.trim(); // the full UTC spelling stays one hover away
      // the reader's own time, and UTC beside it (the cell's common clock), unless the reader's zone is UTC
      el.textContent = inUtc ? format.format(when) : `${format.format(when)} (${utc.format(when)} UTC)`;
      el.dataset.local = "1";
    }
  }
}

document.addEventListener("DOMContentLoaded", () => localTimes(document));
document.addEventListener("htmx:afterSettle", (event) => localTimes(event.detail.elt));
// a signed note opened for reading would close under a refresh: hold the refresh while one is open
document.addEventListener("htmx:beforeRequest", (event) => {
  if (event.detail.elt.id === "ledger-live" && event.detail.elt.querySelector("details[open]")) {
    event.preventDefault();
  }
});

// ---- the server's clock: countdowns count on it, whatever the browser's clock says -------------------------------

let clockOffset = 0; // server time minus browser time, in ms

function learnServerTime(scope, at) {
  // `at`: the browser's time when the server wrote it (the middle of the round trip, as NTP reckons)
  const holder = scope.querySelector("[data-server-now]") || (scope.dataset && scope.dataset.serverNow ? scope : null);
  const value = holder ? holder.dataset.serverNow : root.dataset.serverNow;
  const server = Date.parse(value);
  if (!Number.isNaN(server)) clockOffset = server - (at === undefined ? Date.now() : at);
}

function serverNow() {
  return Date.now() + clockOffset;
}

function clockText(seconds) {
  const s = Math.abs(Math.trunc(seconds));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  if (d) return `${d}d ${two(h)}:${two(m)}:${two(r)}`; // a milestone's weeks, not a thousand hours
  return h ? `${h}:${two(m)}:${two(r)}` : `${two(m)}:${two(r)}`;
}

function tickCountdowns() {
  const config = document.getElementById("live-config");
  const now = serverNow();
  let crossed = false;
  for (const el of document.querySelectorAll(".countdown[data-due]")) {
    const left = (Date.parse(el.dataset.due) - now) / 1000;
    const overdue = left <= 0;
    if (overdue && !el.classList.contains("overdue")) crossed = true;
    el.classList.toggle("overdue", overdue);
    const row = el.closest(".row.owed");
    if (row) row.classList.toggle("overdue", overdue);
    const label = el.querySelector(".countdown-label");
    const value = el.querySelector(".countdown-value");
    if (label && config) label.textContent = overdue ? config.dataset.overdue : config.dataset.due;
    if (value) value.textContent = clockText(left);
  }
  if (crossed && live) live.refresh(); // the server orders what fell overdue to the top
}

// ---- live pages: follow the stream, refresh the part that changes, never miss or repeat ---------------------------

let live = null;

class LivePage {
  constructor(container, config) {
    this.container = container;
    this.url = container.dataset.live;
    this.after = Number(config.dataset.after);
    this.heartbeatMs = Number(config.dataset.heartbeat || 15) * 1000;
    this.delegation = config.dataset.delegation;
    this.config = config;
    this.status = document.getElementById("connection");
    this.announcer = document.getElementById("announcer");
    this.retry = 0;
    this.pending = null;
    this.fetching = false;
    this.again = false;
    this.lastFrame = Date.now();
    this.wasLost = false;
    this.title = document.title;
    this.unseen = 0;
    this.connect();
    setInterval(() => this.watchdog(), 1000);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.clearBadge();
    });
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.socket = new WebSocket(`${scheme}://${location.host}/api/v1/stream?after=${this.after}`);
    this.socket.onmessage = (event) => this.frame(JSON.parse(event.data));
    this.socket.onclose = (event) => this.closed(event);
    this.lastFrame = Date.now();
  }

  frame(frame) {
    this.lastFrame = Date.now();
    if (frame.type === "hello") {
      this.retry = 0;
    } else if (frame.type === "live") {
      if (!root.dataset.ready) {
        // the page is ready: drawn, and following the cell (what the web benchmark times from navigation)
        root.dataset.ready = "1";
        performance.mark("fusioncell-ready");
      }
      if (this.wasLost) {
        this.show("restored", "ok");
        this.wasLost = false;
        setTimeout(() => this.hideIf("restored"), 4000);
      } else {
        this.hide();
      }
    } else if (frame.type === "event") {
      if (frame.index <= this.after) return; // seen already: never twice
      this.after = frame.index;
      this.config.dataset.after = String(frame.index);
      this.arrived(frame);
      // a batch of delivery receipts only moves a loop's state: folded into the next refresh within a second
      this.schedule(frame.action === "message.delivered" ? 1000 : 25);
    } else if (frame.type === "error" && (frame.status === 401 || frame.status === 403)) {
      this.fatal = true;
      location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    }
  }

  arrived(frame) {
    const message = frame.action === "message.sent" && frame.content && frame.content.message;
    if (!message || !["FLASH", "IMMEDIATE"].includes(message.precedence)) return;
    if (!(message.addressed || []).includes(this.delegation)) return;
    const text = this.config.dataset.arrived
      .replace("%(precedence)s", message.precedence)
      .replace("%(sender)s", message.sender_delegation)
      .replace("%(subject)s", message.subject);
    this.announcer.textContent = text;
    this.unseen += 1;
    document.title = `(${this.unseen}) ${message.precedence} · ${this.title}`;
    setFavicon(true);
    alarm.sound(message.precedence);
  }

  clearBadge() {
    this.unseen = 0;
    document.title = this.title;
    setFavicon(false);
  }

  schedule(delay = 25) {
    // events come in bursts: one refresh for a burst; an urgent one brings a slower one forward
    const due = Date.now() + delay;
    if (this.pending && this.pendingDue <= due) return;
    clearTimeout(this.pending);
    this.pendingDue = due;
    this.pending = setTimeout(() => {
      this.pending = null;
      this.refresh();
    }, delay);
  }

  async refresh() {
    if (this.fetching) {
      this.again = true;
      return;
    }
    this.fetching = true;
    try {
      const sent = Date.now();
      const response = await fetch(this.url, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
      const redirect = response.headers.get("HX-Redirect");
      if (redirect) {
        location.assign(redirect);
        return;
      }
      if (response.ok) {
        const html = await response.text();
        if (this.container.contains(document.activeElement) && document.activeElement.matches("textarea, input, select")) {
          // the reader is typing in this part: keep their words, refresh the rest when they leave it
          this.again = true;
          document.activeElement.addEventListener("blur", () => this.refresh(), { once: true });
          return;
        }
        this.container.innerHTML = html;
        learnServerTime(this.container, (sent + Date.now()) / 2);
        localTimes(this.container);
        tickCountdowns();
        this.container.dispatchEvent(new CustomEvent("fusioncell:refreshed", { bubbles: true }));
      }
    } catch (_) {
      // the connection's own watch says so; the next event or reconnect refreshes again
    } finally {
      this.fetching = false;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    }
  }

  closed(event) {
    if (this.fatal) return;
    if (event.code === 4401 || event.code === 4403) {
      location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      return;
    }
    this.lost("lost");
  }

  lost(kind) {
    this.wasLost = true;
    this.show(kind, "lost");
    const wait = [500, 1000, 2000, 5000][Math.min(this.retry, 3)];
    this.retry += 1;
    clearTimeout(this.reconnecting);
    this.reconnecting = setTimeout(() => {
      this.connect();
      this.refresh(); // whatever changed meanwhile, as the server has it now
    }, wait);
  }

  watchdog() {
    // the server sends a heartbeat after every quiet interval: silence past it means the server stopped answering
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastFrame > this.heartbeatMs + 2000) {
      this.socket.onclose = null;
      this.socket.close();
      this.lost("silent");
    }
  }

  show(kind, state) {
    if (!this.status) return;
    this.status.textContent = this.config.dataset[kind];
    this.status.dataset.state = state;
    this.status.dataset.kind = kind;
    this.status.hidden = false;
  }

  hide() {
    if (this.status) this.status.hidden = true;
  }

  hideIf(kind) {
    if (this.status && this.status.dataset.kind === kind) this.status.hidden = true;
  }
}

// ---- the alarm: a short tone the page makes itself (nothing downloaded), muted for the session on request --------

const alarm = {
  context: null,
  muted: sessionStorage.getItem("fusioncell-muted") === "1",

  button() {
    return document.querySelector("[data-sound]");
  },

  setup() {
    const button = this.button();
    if (!button || !window.AudioContext) return;
    button.hidden = false;
    this.label();
    button.addEventListener("click", () => {
      this.muted = !this.muted;
      sessionStorage.setItem("fusioncell-muted", this.muted ? "1" : "0");
      if (!this.muted) this.unlock();
      this.label();
    });
    // browsers let a page play sound only after the reader has touched it: any key or click unlocks it
    const unlock = () => this.unlock();
    document.addEventListener("keydown", unlock, { once: true });
    document.addEventListener("pointerdown", unlock, { once: true });
  },

  label() {
    const button = this.button();
    const config = document.getElementById("live-config");
    if (!button || !config) return;
    button.textContent = this.muted ? config.dataset.soundOff : config.dataset.soundOn;
    button.setAttribute("aria-pressed", this.muted ? "false" : "true");
  },

  unlock() {
    if (!window.AudioContext) return;
    if (!this.context) this.context = new AudioContext();
    if (this.context.state === "suspended") this.context.resume();
  },

  sound(precedence) {
    if (this.muted || !window.AudioContext) return;
    this.unlock();
    const ctx = this.context;
    const beeps = precedence === "FLASH" ? 3 : 2;
    for (let i = 0; i < beeps; i++) {
      const start = ctx.currentTime + i * 0.28;
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = i % 2 ? 660 : 880;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.22);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start);
      osc.stop(start + 0.24);
    }
    document.documentElement.dataset.alarm = String(Number(document.documentElement.dataset.alarm || 0) + 1);
  },
};

function setFavicon(alerting) {
  const link = document.querySelector("link[rel=icon]");
  if (link) link.href = alerting ? "/static/favicon-alert.svg" : "/static/favicon.svg";
}

// ---- compose: the word count against the charter's limit for the chosen precedence; one send per form ----------

function wordCount(text) {
  const words = text.trim().match(/\S+/gu);
  return words ? words.length : 0;
}

function setupCompose() {
  const form = document.getElementById("compose-form");
  if (!form) return;
  const limits = JSON.parse(form.dataset.wordLimits || "{}");
  const counter = form.querySelector(".word-count");
  const precedence = form.querySelector("select[name=precedence]");
  const update = () => {
    const limit = limits[precedence.value];
    let most = 0;
    for (const area of form.querySelectorAll("textarea[data-counted]")) most = Math.max(most, wordCount(area.value));
    const fill = (template) => template.replace("%(words)s", String(most)).replace("%(limit)s", String(limit));
    if (!limit) counter.textContent = fill(counter.dataset.words);
    else counter.textContent = fill(most > limit ? counter.dataset.over : counter.dataset.limit);
    counter.classList.toggle("error", Boolean(limit) && most > limit);
  };
  form.addEventListener("input", update);
  precedence.addEventListener("change", update);
  update();
  form.addEventListener("submit", () => {
    // a double click sends the form once (the client transaction id makes a resend harmless anyway)
    for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = true;
  });
}

// ---- the session: a warning before it ends, then the sign-in page (coming back here) ------------------------------

const SESSION_WARNING_MS = 5 * 60 * 1000;

function watchSession() {
  const ends = Date.parse(root.dataset.sessionEnds || "");
  const notice = document.getElementById("session-ending");
  if (Number.isNaN(ends) || !notice) return;
  const left = ends - serverNow();
  if (left <= 0) {
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    return;
  }
  if (left <= SESSION_WARNING_MS && notice.hidden) {
    const at = new Intl.DateTimeFormat(root.lang || "en", { hour: "2-digit", minute: "2-digit", timeZone: root.dataset.timeZone || undefined });
    notice.querySelector("span").textContent = notice.dataset.text.replace("%(time)s", at.format(new Date(ends)));
    notice.hidden = false;
  }
}

// ---- start -----------------------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  learnServerTime(document);
  const container = document.querySelector("[data-live]");
  const config = document.getElementById("live-config");
  if (container && config) {
    live = new LivePage(container, config);
    alarm.setup();
    tickCountdowns();
    setInterval(tickCountdowns, 1000);
  }
  setupCompose();
  watchSession();
  setInterval(watchSession, 10_000);
});
