// Talking to our JSON APIs, shared by the operator console and the widget frame: one error type
// for every failure, read from the `{"error":{"code","message"}}` envelope, and the backoff
// helpers both pages retry with. Each page builds its own request (path prefix, credentials).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
  // Status 0 is "no answer at all" (offline, DNS, connection reset).
  get retryable() {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

// fetch(url, init) and the parsed JSON body (null for 204). Throws ApiError for an unreachable
// server (with `offlineMessage`) or a non-2xx answer; an abort is rethrown as is, so callers can
// tell "cancelled" from "failed".
export async function requestJson(url, init, offlineMessage) {
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'network', offlineMessage);
  }
  if (response.status === 204) return null;
  let json = null;
  try { json = await response.json(); } catch { /* not JSON */ }
  if (!response.ok) {
    const error = json && json.error;
    throw new ApiError(
      response.status,
      (error && error.code) || `http_${response.status}`,
      (error && error.message) || `Request failed (${response.status}).`,
    );
  }
  return json;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Spreads retries of many clients over 0.5x..1.5x of the nominal delay.
export const jitter = (ms) => Math.round(ms * (0.5 + Math.random()));
