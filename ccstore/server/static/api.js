// The REST API as the page uses it: JSON requests with the token, the token prompt,
// and the live tail (server-sent events read from a fetch stream, so that the token
// goes in a header, which EventSource cannot send).

const TOKEN_KEY = "ccstore.token";

export class AuthError extends Error {}

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body || {};
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function headers() {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

let prompting = null;

// Ask for a token once (one dialog however many requests were refused); resolves when
// the user gave one.  `reason` is the API's 401 message.
export function askToken(reason) {
  if (prompting) return prompting;
  const dlg = document.getElementById("tokendlg");
  const msg = document.getElementById("tokenmsg");
  const state = !token() ? "missing" : /expired/i.test(reason) ? "expired" : "refused";
  msg.textContent = {
    missing: "This server needs a token (JWT) to answer. Paste yours:",
    expired: "Your token has expired. Paste a new one:",
    refused: `The server refused the token: ${reason}. Paste another:`,
  }[state];
  dlg.dataset.state = state;
  const box = document.getElementById("token");
  box.value = "";
  prompting = new Promise((resolve) => {
    dlg.addEventListener("close", function done() {
      dlg.removeEventListener("close", done);
      const t = box.value.trim();
      if (t) sessionStorage.setItem(TOKEN_KEY, t);
      prompting = null;
      resolve(Boolean(t));
    });
  });
  dlg.showModal();
  box.focus();
  return prompting;
}

async function errorOf(resp) {
  let body = {};
  try { body = await resp.json(); } catch (_) { /* not JSON */ }
  return new ApiError(resp.status, body.error || `${resp.status} ${resp.statusText}`, body);
}

// GET a JSON endpoint; on 401 ask for a token and try again.
export async function get(path, params, signal) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") qs.set(k, v);
  }
  const url = `api/${path}${qs.toString() ? "?" + qs : ""}`;
  for (;;) {
    const resp = await fetch(url, { headers: headers(), signal });
    if (resp.ok) return resp.json();
    const err = await errorOf(resp);
    if (resp.status !== 401) throw err;
    if (!(await askToken(err.message))) throw new AuthError(err.message);
  }
}

// Follow /api/tail: `on(event, data, id)` for each event; resolves when the stream
// ends, rejects on a network error or a refused request.  Abort with `signal`.
export async function tail(params, on, signal) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) qs.set(k, v);
  for (;;) {
    const resp = await fetch(`api/tail?${qs}`, { headers: headers(), signal });
    if (resp.status === 401) {
      const err = await errorOf(resp);
      if (!(await askToken(err.message))) throw new AuthError(err.message);
      continue;
    }
    if (!resp.ok) throw await errorOf(resp);
    const reader = resp.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let event = "message", id = null;
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const i = line.indexOf(":");
          const field = i < 0 ? line : line.slice(0, i);
          const val = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
          if (field === "event") event = val;
          else if (field === "data") data.push(val);
          else if (field === "id") id = val;
        }
        if (data.length) on(event, JSON.parse(data.join("\n")), id);
      }
    }
  }
}
