// Streaming player: Python pushes PCM16 deltas as binary buffers; Web Audio plays them back to back
// (each at max(currentTime, end of the previous one), so no gaps) and the played milliseconds of
// each item go back to Python a few times a second, for `conversation.item.truncate`.
// Playback lives in initialize() (one per model); views only draw the status and a Stop button.

const REPORT_MS = 200;
const KEEP_ITEMS = 20;
const REGISTRY_KEY = "__realtime_kit_players";

class PlayerController extends EventTarget {
  constructor(model) {
    super();
    this.model = model;
    this.context = null;
    this.items = new Map(); // item id -> { finishedMs, chunks: [{ source, start, duration }] }
    this.endOfLast = 0;
    this.lastItem = "";
    this.timer = null;
  }

  ensureContext() {
    if (!this.context) this.context = new AudioContext({ latencyHint: "interactive" });
    // resume() only succeeds once the page has had a user gesture; until then audio waits queued
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    return this.context;
  }

  push(data, rate, itemId) {
    const view = data instanceof DataView ? data : new DataView(data.buffer || data, data.byteOffset || 0, data.byteLength);
    const count = view.byteLength >> 1;
    if (count === 0) return;
    const ctx = this.ensureContext();
    const buffer = ctx.createBuffer(1, count, rate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < count; i++) channel[i] = view.getInt16(2 * i, true) / 32768;
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(ctx.destination);
    const start = Math.max(ctx.currentTime, this.endOfLast);
    source.start(start);
    this.endOfLast = start + buffer.duration;
    const item = this.item(itemId);
    item.chunks.push({ source, start, duration: buffer.duration });
    this.lastItem = itemId;
    this.startReporting();
  }

  item(itemId) {
    if (!this.items.has(itemId)) {
      this.items.set(itemId, { finishedMs: 0, chunks: [] });
      while (this.items.size > KEEP_ITEMS) this.items.delete(this.items.keys().next().value);
    }
    return this.items.get(itemId);
  }

  // Folds finished chunks into finishedMs and returns the item's played milliseconds now.
  playedMs(item, now) {
    let partial = 0;
    item.chunks = item.chunks.filter((chunk) => {
      const played = Math.min(Math.max(now - chunk.start, 0), chunk.duration);
      if (played >= chunk.duration) {
        item.finishedMs += chunk.duration * 1000;
        return false;
      }
      partial += played * 1000;
      return true;
    });
    return item.finishedMs + partial;
  }

  snapshot() {
    const now = this.context ? this.context.currentTime : 0;
    const played = {};
    for (const [id, item] of this.items) played[id] = Math.floor(this.playedMs(item, now));
    const buffered = Math.max(0, this.endOfLast - now);
    return { played, buffered, playing: buffered > 0 && this.context && this.context.state === "running" };
  }

  report() {
    const { played, buffered, playing } = this.snapshot();
    this.model.set("played", played);
    this.model.set("played_ms", played[this.lastItem] || 0);
    this.model.set("playing", Boolean(playing));
    this.model.set("buffered_ms", Math.round(buffered * 1000));
    this.model.set("blocked", Boolean(this.context && this.context.state === "suspended"));
    this.model.save_changes();
    this.dispatchEvent(new Event("change"));
    if (buffered <= 0) this.stopReporting();
  }

  startReporting() {
    if (this.timer === null) this.timer = setInterval(() => this.report(), REPORT_MS);
  }

  stopReporting() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  // Silences everything queued; what was already heard stays counted in `played`.
  stop() {
    const now = this.context ? this.context.currentTime : 0;
    for (const item of this.items.values()) {
      item.finishedMs = this.playedMs(item, now);
      for (const chunk of item.chunks) chunk.source.stop();
      item.chunks = [];
    }
    this.endOfLast = now;
    this.report();
  }

  clear() {
    this.stop();
    this.items.clear();
    this.lastItem = "";
    this.report();
  }

  enableSound() {
    this.ensureContext();
    setTimeout(() => this.report(), 50);
  }

  dispose() {
    this.stopReporting();
    if (this.context) this.context.close();
    this.context = null;
  }
}

function initialize({ model }) {
  const player = new PlayerController(model);
  const key = model.get("_key");
  registry(REGISTRY_KEY).set(key, player);
  model.on("msg:custom", (msg, buffers) => {
    if (msg.type === "chunk" && buffers && buffers.length) player.push(buffers[0], msg.rate, msg.item_id || "");
    else if (msg.type === "stop") {
      player.stop();
      // the exact count at the stop, for conversation.item.truncate
      if (msg.request) model.send({ type: "stopped", request: msg.request, played: player.snapshot().played });
    }
    else if (msg.type === "clear") player.clear();
  });
  return () => {
    player.dispose();
    registry(REGISTRY_KEY).delete(key);
  };
}

async function render({ model, el }) {
  const player = await controllerFor(model, REGISTRY_KEY, "player");
  el.classList.add("rk-player");
  el.innerHTML = `
    <div style="display:flex;align-items:center;gap:8px;font-family:var(--jp-ui-font-family,sans-serif);font-size:13px">
      <span class="rk-player-icon" style="width:1em">♪</span>
      <span class="rk-player-status" style="font-variant-numeric:tabular-nums;color:#555"></span>
      <button class="rk-player-enable" type="button" style="display:none">Enable sound</button>
      <button class="rk-player-stop" type="button">■ Stop audio</button>
    </div>`;
  const icon = el.querySelector(".rk-player-icon");
  const status = el.querySelector(".rk-player-status");
  const enable = el.querySelector(".rk-player-enable");
  const stop = el.querySelector(".rk-player-stop");
  const draw = () => {
    const playing = Boolean(model.get("playing"));
    icon.style.color = playing ? "#2e7d32" : "#999";
    const played = (model.get("played_ms") || 0) / 1000;
    const buffered = (model.get("buffered_ms") || 0) / 1000;
    status.textContent = playing ? `playing: ${played.toFixed(1)} s heard, ${buffered.toFixed(1)} s queued`
      : `idle: ${played.toFixed(1)} s heard of the last reply`;
    enable.style.display = model.get("blocked") ? "" : "none";
    stop.style.display = model.get("show_stop") ? "" : "none";
    el.dataset.playedMs = String(model.get("played_ms") || 0);
  };
  enable.addEventListener("click", () => player.enableSound());
  stop.addEventListener("click", () => {
    player.stop();
    // Python decides whether this interrupts a response (cancel + truncate at the played ms)
    model.send({ type: "stop_pressed", played: model.get("played") });
  });
  player.addEventListener("change", draw);
  model.on("change:played_ms", draw);
  draw();
  return () => player.removeEventListener("change", draw);
}

export default { initialize, render };
