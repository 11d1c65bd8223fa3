// The browser's microphone as 24 kHz PCM16 chunks, sent to Python as binary buffers over the widget comm.
// Capture lives in initialize() (one per model), so showing the widget twice never records twice;
// each view only draws buttons, a level meter and errors from the shared controller.

const CHUNK_MS = 100;
const REGISTRY_KEY = "__realtime_kit_microphones";

// Runs on the audio thread: mixes to mono and posts ~20 ms Float32 blocks at the context rate.
const WORKLET_SOURCE = `
class RkCapture extends AudioWorkletProcessor {
  constructor() { super(); this.block = new Float32Array(Math.round(sampleRate / 50)); this.used = 0; }
  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const n = channels[0].length;
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let c = 0; c < channels.length; c++) sum += channels[c][i];
      this.block[this.used++] = sum / channels.length;
      if (this.used === this.block.length) {
        this.port.postMessage(this.block);
        this.block = new Float32Array(this.block.length);
        this.used = 0;
      }
    }
    return true;
  }
}
registerProcessor("rk-capture", RkCapture);
`;

// Box-filter resampler: each output sample averages the input span it covers (an anti-alias
// low-pass for downsampling), carrying the fractional phase across blocks so chunks join seamlessly.
export class Resampler {
  constructor(inRate, outRate) {
    this.step = inRate / outRate;
    this.pending = new Float32Array(0);
    this.pos = 0;
  }
  push(input) {
    const buf = new Float32Array(this.pending.length + input.length);
    buf.set(this.pending);
    buf.set(input, this.pending.length);
    const out = [];
    const span = Math.max(this.step, 1);
    while (this.pos + span <= buf.length) {
      out.push(average(buf, this.pos, this.pos + span));
      this.pos += this.step;
    }
    const keep = Math.floor(this.pos);
    this.pending = buf.slice(keep);
    this.pos -= keep;
    return Float32Array.from(out);
  }
}

function average(buf, a, b) {
  let sum = 0;
  for (let i = Math.floor(a); i < b; i++) {
    sum += buf[i] * (Math.min(b, i + 1) - Math.max(a, i));
  }
  return sum / (b - a);
}

function toPcm16(floats) {
  const out = new Int16Array(floats.length);
  for (let i = 0; i < floats.length; i++) {
    const x = Math.max(-1, Math.min(1, floats[i]));
    out[i] = Math.round(x * 32767);
  }
  return out;
}

function levelDbfs(floats) {
  let sum = 0;
  for (let i = 0; i < floats.length; i++) sum += floats[i] * floats[i];
  const rms = Math.sqrt(sum / Math.max(1, floats.length));
  return rms > 0 ? Math.max(-100, 20 * Math.log10(rms)) : -100;
}

function explain(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError") {
    return "Microphone permission was denied: allow this page to use the microphone " +
      "(the icon in the address bar), then press Start again.";
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    return "No microphone was found: connect one and press Start again, " +
      "or send a recording with session.send_audio(path).";
  }
  if (name === "NotReadableError") {
    return "The microphone is busy or failed to start: close other apps that use it and press Start again.";
  }
  return `The microphone could not start (${name || "Error"}: ${err && err.message}).`;
}

class MicrophoneController extends EventTarget {
  constructor(model) {
    super();
    this.model = model;
    this.stream = null;
    this.context = null;
    this.pcm = new Int16Array(0);
    this.sentSamples = 0;
    this.level = -100;
    this.starting = null;
  }

  get rate() {
    return this.model.get("rate") || 24000;
  }

  async start() {
    if (this.stream || this.starting) return;
    this.starting = this.open();
    try {
      await this.starting;
      this.setError("");
      // Stop was pressed while the browser was still asking for the device
      if (!this.model.get("recording")) this.stop();
    } catch (err) {
      this.close();
      this.setError(explain(err));
      this.model.set("recording", false);
      this.model.save_changes();
    } finally {
      this.starting = null;
      this.changed();
    }
  }

  async open() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      const err = new Error("the page is not a secure context; open JupyterLab on https:// or localhost");
      err.name = "SecurityError";
      throw err;
    }
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    this.context = new AudioContext();
    const url = URL.createObjectURL(new Blob([WORKLET_SOURCE], { type: "application/javascript" }));
    try {
      await this.context.audioWorklet.addModule(url);
    } finally {
      URL.revokeObjectURL(url);
    }
    const source = this.context.createMediaStreamSource(this.stream);
    const node = new AudioWorkletNode(this.context, "rk-capture");
    this.resampler = new Resampler(this.context.sampleRate, this.rate);
    this.sentSamples = 0;
    this.pcm = new Int16Array(0);
    // announced before the first chunk can exist, so Python starts the take at its first sample
    this.model.send({ type: "started", context_rate: this.context.sampleRate, rate: this.rate });
    node.port.onmessage = (event) => this.onBlock(event.data);
    source.connect(node);
    // the worklet must reach the destination to be pulled; it outputs silence
    node.connect(this.context.destination);
    await this.context.resume();
  }

  onBlock(block) {
    if (!this.stream) return;
    const samples = toPcm16(this.resampler.push(block));
    const joined = new Int16Array(this.pcm.length + samples.length);
    joined.set(this.pcm);
    joined.set(samples, this.pcm.length);
    this.pcm = joined;
    const chunk = Math.round((this.rate * CHUNK_MS) / 1000);
    while (this.pcm.length >= chunk) {
      this.sendChunk(this.pcm.slice(0, chunk));
      this.pcm = this.pcm.slice(chunk);
    }
    this.level = levelDbfs(block);
    this.changed();
  }

  sendChunk(samples) {
    if (samples.length === 0) return;
    this.model.send({ type: "chunk", rate: this.rate, samples: samples.length }, undefined, [samples.buffer]);
    this.sentSamples += samples.length;
  }

  stop() {
    if (!this.stream) return;
    this.sendChunk(this.pcm);
    this.pcm = new Int16Array(0);
    this.close();
    this.model.send({ type: "stopped", samples: this.sentSamples, rate: this.rate });
    this.level = -100;
    this.changed();
  }

  close() {
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
    if (this.context) this.context.close();
    this.stream = null;
    this.context = null;
  }

  setError(text) {
    if (this.model.get("error") === text) return;
    this.model.set("error", text);
    this.model.save_changes();
  }

  changed() {
    this.dispatchEvent(new Event("change"));
  }
}

function initialize({ model }) {
  const mic = new MicrophoneController(model);
  const key = model.get("_key");
  registry(REGISTRY_KEY).set(key, mic);
  const follow = () => (model.get("recording") ? mic.start() : mic.stop());
  model.on("change:recording", follow);
  if (model.get("recording")) follow();
  return () => {
    mic.stop();
    registry(REGISTRY_KEY).delete(key);
  };
}

async function render({ model, el }) {
  const mic = await controllerFor(model, REGISTRY_KEY, "microphone");
  el.classList.add("rk-microphone");
  el.innerHTML = `
    <div style="display:flex;align-items:center;gap:8px;font-family:var(--jp-ui-font-family,sans-serif);font-size:13px">
      <button class="rk-mic-toggle" type="button" style="min-width:9em"></button>
      <div class="rk-mic-meter" title="input level" style="width:120px;height:10px;background:#e4e4e4;border-radius:5px;overflow:hidden">
        <div class="rk-mic-level" style="height:100%;width:0;background:#2e9e44;transition:width 80ms linear"></div>
      </div>
      <span class="rk-mic-time" style="font-variant-numeric:tabular-nums;color:#555"></span>
    </div>
    <div class="rk-mic-error" style="color:#c62828;margin-top:4px"></div>`;
  const toggle = el.querySelector(".rk-mic-toggle");
  const level = el.querySelector(".rk-mic-level");
  const time = el.querySelector(".rk-mic-time");
  const error = el.querySelector(".rk-mic-error");

  const draw = () => {
    const on = Boolean(model.get("recording"));
    toggle.textContent = on ? "■ Stop" : "● Start";
    toggle.dataset.recording = String(on);
    toggle.style.display = model.get("show_button") ? "" : "none";
    const percent = Math.max(0, Math.min(100, ((mic.level + 60) / 60) * 100));
    level.style.width = `${on ? percent : 0}%`;
    level.style.background = mic.level > -3 ? "#c62828" : "#2e9e44";
    time.textContent = on ? `${(mic.sentSamples / mic.rate).toFixed(1)} s` : "";
    error.textContent = model.get("error") || "";
  };
  toggle.addEventListener("click", () => {
    // starting inside the click keeps the browser's user-gesture rules happy
    const on = !model.get("recording");
    model.set("recording", on);
    model.save_changes();
  });
  mic.addEventListener("change", draw);
  model.on("change:recording", draw);
  model.on("change:error", draw);
  draw();
  return () => mic.removeEventListener("change", draw);
}

export default { initialize, render };
