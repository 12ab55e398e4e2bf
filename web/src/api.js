// The node's JSON API as the page uses it. Every failure becomes a BallotchainError with
// the node's code (4xx JSON) or WEB_NETWORK (no answer), so the page can say what happened.

import { BallotchainError } from './errors.js';

const TIMEOUT_MS = 60_000;

async function call(url, init = {}) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), init.timeoutMs ?? TIMEOUT_MS);
  let resp;
  try {
    resp = await fetch(url, { ...init, signal: ctl.signal, cache: 'no-store' });
  } catch (e) {
    throw new BallotchainError('WEB_NETWORK', `${url}: ${e && e.message ? e.message : e}`);
  } finally {
    clearTimeout(timer);
  }
  let body = null;
  try {
    body = await resp.json();
  } catch {
    if (!resp.ok) throw new BallotchainError('WEB_NETWORK', `${url}: HTTP ${resp.status}`);
    throw new BallotchainError('CODEC_MALFORMED', `${url}: the answer is not JSON`);
  }
  if (!resp.ok) {
    const code = body && typeof body.error === 'string' ? body.error : 'WEB_NETWORK';
    throw new BallotchainError(code, (body && body.message) || `HTTP ${resp.status}`);
  }
  return body;
}

export const getJson = (base, path) => call(`${base}${path}`);

/** POST canonical transaction bytes (hex) and wait for the commit. */
export const postTx = (base, txHex) =>
  call(`${base}/v1/txs?wait=commit`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ tx: txHex }),
  });
