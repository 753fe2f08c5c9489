// Calls to the public driver API (/api/driver/v1/): a device token in the Authorization header,
// never cookies, and one error shape ({"error": {"code", "message", "fields"}}).

let base = "/api/driver/v1/";

export function configure(apiBase) {
  base = apiBase.endsWith("/") ? apiBase : `${apiBase}/`;
}

/** The request never got an answer: no network, a timeout, a connection cut. */
export class NetworkError extends Error {}

/** The server answered with an error. */
export class ApiError extends Error {
  constructor(status, error, retryAfter) {
    super(error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = error?.code || "";
    this.fields = error?.fields || {};
    this.retryAfter = retryAfter;
  }
}

export async function request(method, path, { token, json, form, key, timeoutMs } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (key) headers["Idempotency-Key"] = key;
  let body;
  if (form) {
    body = new FormData();
    for (const [name, value] of Object.entries(form.fields)) body.append(name, value);
    if (form.file) body.append("file", form.file, form.filename || "image");
  } else if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs ?? (form ? 120_000 : 30_000));
  let response;
  let text;
  try {
    response = await fetch(base + path, {
      method,
      headers,
      body,
      signal: controller.signal,
      credentials: "omit",
      cache: "no-store",
    });
    text = await response.text();
  } catch (error) {
    throw new NetworkError(error?.message || "network");
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.error, response.headers.get("Retry-After"));
  }
  return data;
}
