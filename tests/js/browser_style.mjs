// openai-node's OpenAIRealtimeWebSocket (the class browsers use) against the embedded server: it offers the
// subprotocols "realtime" and "openai-insecure-api-key.<key>" and aborts unless the server echoes one.
// Usage: OPENAI_BASE_URL=https://127.0.0.1:PORT/v1 OPENAI_API_KEY=... node browser_style.mjs
import OpenAI from 'openai';
import { OpenAIRealtimeWebSocket } from 'openai/realtime/websocket';
import { WebSocket as WsWebSocket } from 'ws';

// Node 22 has a browser WebSocket built in; on Node 20 the ws package stands in with the same API.
globalThis.WebSocket ??= WsWebSocket;

const client = new OpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: process.env.OPENAI_API_KEY });
const rt = new OpenAIRealtimeWebSocket({ model: 'gpt-realtime' }, client);
const timer = setTimeout(() => { console.log('timeout'); process.exit(3); }, 60000);

rt.on('error', (err) => { console.log(`error: ${err.message}`); clearTimeout(timer); process.exit(2); });
rt.socket.addEventListener('open', () => {
  console.log(`subprotocol: ${rt.socket.protocol}`);
  rt.send({ type: 'session.update', session: { type: 'realtime', output_modalities: ['text'] } });
  rt.send({ type: 'conversation.item.create',
            item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Say hello.' }] } });
  rt.send({ type: 'response.create' });
});
rt.on('event', (event) => console.log(`event: ${event.type}`));
rt.on('response.done', (event) => {
  console.log(`status: ${event.response.status}`);
  clearTimeout(timer);
  rt.close();
});
