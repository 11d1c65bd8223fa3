// The playground's transcript: Python sends the HTML; the view keeps the newest line in sight.
// It follows the bottom unless the reader has scrolled up (then it leaves them where they are).

function render({ model, el }) {
  el.classList.add("rk-transcript-view");
  const box = document.createElement("div");
  box.className = "rk-transcript-scroll";
  box.style.overflowY = "auto";
  el.appendChild(box);
  let following = true;
  box.addEventListener("scroll", () => {
    following = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
  });
  const draw = () => {
    box.style.maxHeight = `${model.get("max_height")}px`;
    box.innerHTML = model.get("html");
    if (following) box.scrollTop = box.scrollHeight;
  };
  model.on("change:html", draw);
  model.on("change:max_height", draw);
  draw();
}

export default { render };
