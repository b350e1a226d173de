// The API client: the bearer token from POST /auth/token on every request.
const KEY = "onemap.token";
let token = sessionStorage.getItem(KEY);

export function getToken() {
  return token;
}

export function clearToken() {
  token = null;
  sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export async function login(username, password) {
  const r = await fetch("/auth/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, body);
  token = body.access_token;
  sessionStorage.setItem(KEY, token);
  return body;
}

export function authHeaders() {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { ...authHeaders(), accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) {
    if (r.status === 401) window.dispatchEvent(new CustomEvent("onemap:unauthorised"));
    throw new ApiError(r.status, data);
  }
  return data;
}

// Server-Sent Events read with fetch, so the Authorization header goes along
// (EventSource cannot send headers). Reconnects after `retry` ms, resuming
// from the last event id; returns a function that stops it.
export function streamEvents(path, onEvent, onState = () => {}) {
  let stopped = false;
  let lastId = null;
  let controller = null;
  let retry = 3000;

  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const headers = { ...authHeaders(), accept: "text/event-stream" };
        if (lastId) headers["last-event-id"] = lastId;
        const r = await fetch(path, { headers, signal: controller.signal });
        if (!r.ok) throw new ApiError(r.status, null);
        onState("open");
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const frame = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const event = { event: "message", data: "" };
            for (const line of frame.split("\n")) {
              if (!line || line.startsWith(":")) continue;
              const i = line.indexOf(":");
              const name = i < 0 ? line : line.slice(0, i);
              const val = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
              if (name === "data") event.data += (event.data ? "\n" : "") + val;
              else if (name === "id") lastId = val;
              else if (name === "event") event.event = val;
              else if (name === "retry" && /^\d+$/.test(val)) retry = Number(val);
            }
            if (event.event === "grade") onEvent(JSON.parse(event.data));
          }
        }
      } catch (err) {
        if (stopped) return;
        onState("error", err);
      }
      if (stopped) return;
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, retry));
    }
  }
  run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
