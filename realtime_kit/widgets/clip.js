// One clip's player: a play button; the first press asks Python for the audio, which arrives as a
// binary PCM16 buffer, is wrapped in a WAV header and played by an <audio> control from a blob URL
// (nothing base64, nothing in the page's HTML or the saved widget state).

function wavBlob(pcm, rate) {
  const bytes = pcm instanceof DataView ? new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength)
    : new Uint8Array(pcm.buffer || pcm);
  const header = new DataView(new ArrayBuffer(44));
  const text = (offset, s) => [...s].forEach((c, i) => header.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); header.setUint32(4, 36 + bytes.length, true); text(8, "WAVE");
  text(12, "fmt "); header.setUint32(16, 16, true); header.setUint16(20, 1, true); header.setUint16(22, 1, true);
  header.setUint32(24, rate, true); header.setUint32(28, rate * 2, true); header.setUint16(32, 2, true);
  header.setUint16(34, 16, true); text(36, "data"); header.setUint32(40, bytes.length, true);
  return new Blob([header.buffer, bytes], { type: "audio/wav" });
}

function render({ model, el }) {
  el.classList.add("rk-clip");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "rk-clip-play";
  button.textContent = `▶ ${model.get("duration_s").toFixed(1)} s`;
  el.appendChild(button);
  let url = null;
  const onMessage = (msg, buffers) => {
    if (msg.type !== "pcm" || !buffers || !buffers.length || url) return;
    url = URL.createObjectURL(wavBlob(buffers[0], msg.rate));
    const audio = document.createElement("audio");
    audio.controls = true;
    audio.style.height = "32px";
    audio.src = url;
    button.replaceWith(audio);
    audio.play().catch(() => {});
  };
  model.on("msg:custom", onMessage);
  button.addEventListener("click", () => model.send({ type: "load" }));
  return () => {
    model.off("msg:custom", onMessage);
    if (url) URL.revokeObjectURL(url);
  };
}

export default { render };
