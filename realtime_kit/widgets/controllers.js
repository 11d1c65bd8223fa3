// Shared by microphone.js and player.js: prepended to each by widgets/esm.py, because anywidget
// loads every widget's module on its own (a blob URL), so they cannot import a sibling file.

// One controller per widget model, kept across re-renders (a model can be displayed in several cells).
function registry(key) {
  globalThis[key] = globalThis[key] || new Map();
  return globalThis[key];
}

async function controllerFor(model, key, what) {
  // render can run before initialize has registered the controller: wait a little for it
  for (let tries = 0; tries < 50; tries++) {
    const found = registry(key).get(model.get("_key"));
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`the ${what} controller did not start; re-run the cell`);
}
