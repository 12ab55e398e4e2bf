// Register from the phone: the voter's key is made on this device, kept in the browser
// sealed with the voter's password, offered as a download, and registered with the
// city's login (`city-login` elections) through the registrar service.
//
// The key file is byte-for-byte the format of ballot_tx/keys.py (argon2id + SecretBox,
// the same limits): a downloaded file opens in `ballotchain vote --key` and in the
// key-file form of this page. Neither the password nor the secret key ever leaves the
// page; the registrar is sent the public key only.
//
// The registrar's address comes from the page address (`?registrar=https://...`, as the
// city publishes it) and is remembered. The identity provider is the election's: the page
// builds the authorization request itself from the manifest's `login_provider` (issuer,
// client id), the provider's discovery document (which must name that issuer) and the
// registrar's one-time parameters (state, nonce, PKCE challenge, redirect URI); a
// registrar answering for another provider is refused (WEB_PROVIDER_MISMATCH). After the sign-in the registrar sends the browser
// back with `#login=<one-time token>`; the voter's password opens the key, which signs the
// election and the token (kind `registrar-login`) to finish: so a sign-in someone else
// started with their own key cannot register it with this voter's login. The registrar
// answers with the registration's tracking code, and the page checks on chain itself that
// this transaction is certified by the validators, is signed by the genesis registrar, and
// registers exactly this device's key in this election, before it says so.

import { sodium } from './sodium.js';
import { concat, equal, fromHex, toHex } from './bytes.js';
import { KEY_FILE_TYPE, KEY_FILE_VERSION, KeyPair, loadKeyFile, publicInfo } from './keys.js';
import { BallotchainError } from './errors.js';
import { decode } from './codec.js';
import { getJson } from './api.js';
import { errorText } from './i18n.js';
import { txHash } from './tx.js';
import { LOOPBACK_HOSTS, REGISTRAR_LOGIN_KIND } from './constants.js';
import { verifyReceipt } from './receipt.js';

export const MIN_PASSWORD = 8;
/** The signature kind that finishes a sign-in (node/registrar/login.py FINISH_KIND). */
export const FINISH_KIND = REGISTRAR_LOGIN_KIND;

const TEXT = {
  ja: {
    method_login: 'つくば市のログインで登録して投票',
    make_intro: 'この端末で投票用の鍵を作ります。鍵はパスワードで封印してこのブラウザに保存され、パスワードも鍵もどこにも送られません。',
    password_label: '鍵のパスワード(8文字以上)',
    password_again_label: 'もう一度パスワード',
    make_key: '鍵を作る',
    making_key: '鍵を作っています…',
    pw_short: 'パスワードは8文字以上にしてください。',
    pw_differ: '2つのパスワードが同じではありません。',
    key_kept: '投票用の鍵をこの端末に保存しました(パスワードで封印)。',
    download: '鍵ファイルを保存する(別の端末で投票するときや、ブラウザのデータを消したときに使います)',
    signin_intro: '次に、つくば市のログインで本人確認をします。ログインの情報は登録係が確かめるだけで、チェーンには載りません。',
    signin: 'つくば市のログインで登録する',
    signing_in: 'ログイン画面に移動しています…',
    no_registrar: 'このページのアドレスに登録係の指定がありません。市から案内されたアドレスで開いてください。',
    checking_registration: '登録がチェーンに記録されたか確かめています…',
    registered: '登録はチェーンに記録され、検証者の署名を確かめました(記録番号 {code}…)。',
    unlock_intro: '投票するには鍵のパスワードを入力してください。',
    finish_intro: 'ログインできました。鍵のパスワードを入力して登録を完了してください。',
    finish: '登録を完了する',
    finishing: '登録しています…',
    to_ballot: '投票用紙へ進む',
    not_open: '投票期間になると、ここから投票できます。',
    receipt_cancelled: '投票所での紙の投票により、このインターネット投票は取り消されました。この票は数えられません。',
    errors: {
      TX_CARD_TAG_USED: 'このログインでは、この投票にすでに登録されています。同じ人が二度登録することはできません。',
      REGISTRAR_LOGIN_UNKNOWN: 'ログインの手続きが期限切れか、すでに終わっています。もう一度ログインしてください。',
      REGISTRAR_PROVIDER_ERROR: 'つくば市のログインが完了しませんでした。もう一度お試しください。',
      WEB_NOT_REGISTERED: '登録係の返事が、この端末の鍵の登録と一致しません。',
      WEB_PROVIDER_MISMATCH: 'ログインの行き先が、この投票で決められたログインと一致しません。市に連絡してください。',
      API_RATE_LIMITED: '手続きが混み合っています。少し待ってから、もう一度お試しください。',
    },
  },
  en: {
    method_login: 'Register with the Tsukuba City login and vote',
    make_intro: 'This makes your voting key on this device. It is sealed with your password and kept in this browser; neither the password nor the key is sent anywhere.',
    password_label: 'Key password (at least 8 characters)',
    password_again_label: 'Password again',
    make_key: 'Make my key',
    making_key: 'Making your key…',
    pw_short: 'Use a password of at least 8 characters.',
    pw_differ: 'The two passwords are not the same.',
    key_kept: 'Your voting key is kept on this device, sealed with your password.',
    download: 'Save the key file (to vote from another device, or if the browser data is cleared)',
    signin_intro: 'Next, prove who you are with the Tsukuba City login. The registrar only checks it; your login never goes on the chain.',
    signin: 'Register with the Tsukuba City login',
    signing_in: 'Going to the login page…',
    no_registrar: 'This page address names no registrar. Open the address the city gave you.',
    checking_registration: 'Checking that your registration is on the chain…',
    registered: 'Your registration is on the chain; the validators\u2019 signatures were checked (tracking code {code}…).',
    unlock_intro: 'To vote, enter your key password.',
    finish_intro: 'You are signed in. Enter your key password to finish your registration.',
    finish: 'Finish registration',
    finishing: 'Registering…',
    to_ballot: 'Go to the ballot',
    not_open: 'When voting opens, you can vote from here.',
    receipt_cancelled: 'A paper vote at a polling station cancelled this internet vote: it is not counted.',
    errors: {
      TX_CARD_TAG_USED: 'This login is already registered in this vote. Nobody can register twice.',
      REGISTRAR_LOGIN_UNKNOWN: 'The sign-in expired or was already finished. Please sign in again.',
      REGISTRAR_PROVIDER_ERROR: 'The Tsukuba City login did not complete. Please try again.',
      WEB_NOT_REGISTERED: 'The registrar\u2019s answer does not match the registration of this device\u2019s key.',
      WEB_PROVIDER_MISMATCH: 'The sign-in would not go to the login this vote names. Please contact the city.',
      API_RATE_LIMITED: 'Too many requests right now. Please wait a moment and try again.',
    },
  },
};

export const REGISTER_MESSAGES = TEXT;

/** What a receipt says when the node reports the voter's paper vote cancelled this ballot. */
export const cancelledText = (lang) => TEXT[lang].receipt_cancelled;

// --- the key file (ballot_tx/keys.py dump_key_file) -------------------------------------

/** A fresh voter key and its key-file text sealed with `password` (argon2id + SecretBox). */
export function makeKeyFile(password) {
  const pw = typeof password === 'string' ? new TextEncoder().encode(password) : password;
  if (!pw || pw.length === 0) throw new BallotchainError('KEY_PASSWORD_REQUIRED', 'a password is needed');
  const keys = new KeyPair(sodium.randombytes_buf(32), sodium.randombytes_buf(32));
  const opslimit = sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE;
  const memlimit = sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE;
  const salt = sodium.randombytes_buf(sodium.crypto_pwhash_SALTBYTES);
  const key = sodium.crypto_pwhash(sodium.crypto_secretbox_KEYBYTES, pw, salt, opslimit, memlimit,
    sodium.crypto_pwhash_ALG_ARGON2ID13);
  const nonce = sodium.randombytes_buf(sodium.crypto_secretbox_NONCEBYTES);
  const sealed = concat(nonce, sodium.crypto_secretbox_easy(concat(keys.ed25519Seed, keys.x25519Secret), nonce, key));
  const doc = {
    type: KEY_FILE_TYPE,
    version: KEY_FILE_VERSION,
    ed25519_public: toHex(keys.ed25519Public),
    x25519_public: toHex(keys.x25519Public),
    node_id: keys.nodeId,
    encryption: { kdf: 'argon2id13', opslimit, memlimit, salt: toHex(salt), cipher: 'xsalsa20poly1305' },
    secret: toHex(sealed),
  };
  return { keys, text: `${JSON.stringify(doc, null, 2)}\n` };
}

// --- what the browser keeps (sealed key, verified registration) --------------------------

const keyItem = (eid) => `ballotchain.key.${toHex(eid)}`;
const regItem = (eid) => `ballotchain.registration.${toHex(eid)}`;

export function registrarUrl() {
  const given = new URLSearchParams(location.search).get('registrar');
  if (given && /^https?:\/\/[^/?#]+$/.test(given.replace(/\/+$/, ''))) {
    localStorage.setItem('ballotchain.registrar', given.replace(/\/+$/, ''));
  }
  return localStorage.getItem('ballotchain.registrar');
}

/** Check on chain that `code` is a certified RegisterKeys by the genesis registrar for our key. */
export async function verifyRegistration({ base, genesis, chainId, eid, voterPublic, code }) {
  let r;
  for (let i = 0; ; i++) {
    try {
      r = await getJson(base, `/v1/receipts/${code}`);
      break;
    } catch (e) {
      // the registrar waited for the commit on its own node; this one may be a block behind
      if (e.code !== 'API_NOT_FOUND' || i >= 20) throw e;
      await new Promise((res) => setTimeout(res, 250));
    }
  }
  const proof = decode('InclusionProof', fromHex(r.inclusion_proof_bytes));
  const cert = r.certificate_bytes ? decode('CommitCertificate', fromHex(r.certificate_bytes)) : null;
  const out = verifyReceipt({ trackingCode: fromHex(code), genesis, chainId, proof, cert });
  const t = await getJson(base, `/v1/txs/${code}`);
  const raw = fromHex(t.tx_bytes);
  if (!equal(txHash(raw), fromHex(code))) {
    throw new BallotchainError('WEB_NOT_REGISTERED', 'the node served another transaction');
  }
  const tx = decode('Tx', raw);
  const registrar = genesis.authorities.find((a) => a.role === 'registrar');
  const ok = tx.body.$type === 'RegisterKeys' && equal(tx.body.election_id, eid) && registrar &&
    equal(tx.signer, registrar.ed25519_public) && tx.body.entries.some((e) => equal(e.voter_key, voterPublic));
  if (!ok) throw new BallotchainError('WEB_NOT_REGISTERED', 'the transaction does not register this key');
  return out;
}

// --- the panel on the start screen ---------------------------------------------------------

const R = { busy: false, error: null, hashRead: false, keys: null };
const tokenItem = (eid) => `ballotchain.login.${toHex(eid)}`;

function sentence(lang, e) {
  const code = e && e.code ? e.code : String(e || 'WEB_NETWORK');
  const own = e && e.key ? TEXT[lang][e.key] : TEXT[lang].errors[code];
  const errWord = lang === 'ja' ? 'エラーコード' : 'error code';
  return `${own || errorText(lang, code)} (${errWord}: ${code})`;
}

/**
 * The registration panel. `ui` is the page's: { h, S, show, announce, alertText, onKeys }.
 * It re-renders through ui.show('start') whenever its state changes.
 */
export function cityLoginPanel(ui) {
  const { h, S } = ui;
  const L = TEXT[S.lang];
  const tx = (k, vars = {}) => L[k].replace(/\{(\w+)\}/g, (_, v) => String(vars[v]));
  const stored = localStorage.getItem(keyItem(S.eid));
  if (!R.hashRead) readHash(ui, stored);
  const registered = localStorage.getItem(regItem(S.eid));
  const parts = [];
  const errBox = R.error ? h('div', { class: 'error-box', role: 'alert', id: 'register-error' }, h('p', { text: sentence(S.lang, R.error) })) : null;

  if (!stored) {
    const pw1 = h('input', { id: 'new-pw', type: 'password', autocomplete: 'new-password', 'aria-describedby': 'make-intro' });
    const pw2 = h('input', { id: 'new-pw2', type: 'password', autocomplete: 'new-password' });
    parts.push(h('p', { id: 'make-intro', class: 'hint', text: L.make_intro }), errBox,
      h('form', { onsubmit: (ev) => { ev.preventDefault(); makeKey(ui, pw1.value, pw2.value); } },
        h('label', { for: 'new-pw', text: L.password_label }), pw1,
        h('label', { for: 'new-pw2', text: L.password_again_label }), pw2,
        h('button', { type: 'submit', class: 'primary', id: 'make-key' }, R.busy ? L.making_key : L.make_key)));
  } else {
    const info = publicInfo(stored);
    const url = URL.createObjectURL(new Blob([stored], { type: 'application/json' }));
    parts.push(h('p', { class: 'ok', text: L.key_kept }),
      h('p', {}, h('a', { href: url, download: `ballotchain-${toHex(S.eid).slice(0, 8)}-${info.ed25519_public.slice(0, 8)}.key`, id: 'download-key' }, L.download)));
    const token = sessionStorage.getItem(tokenItem(S.eid));
    if (!registered && token) {
      const pw = h('input', { id: 'finish-pw', type: 'password', autocomplete: 'current-password', 'aria-describedby': 'finish-intro' });
      parts.push(errBox, h('form', { onsubmit: (ev) => { ev.preventDefault(); finishLogin(ui, stored, token, pw.value); } },
        h('p', { id: 'finish-intro', class: 'hint', text: L.finish_intro }),
        h('label', { for: 'finish-pw', text: L.password_label }), pw,
        h('button', { type: 'submit', class: 'primary', id: 'finish' }, R.busy ? L.finishing : L.finish)));
    } else if (!registered) {
      parts.push(h('p', { text: L.signin_intro }), errBox,
        h('button', { type: 'button', class: 'primary', id: 'signin', onclick: () => signIn(ui, info.ed25519_public) }, L.signin));
    } else {
      parts.push(h('p', { class: 'ok', id: 'registered', text: tx('registered', { code: registered.slice(0, 16) }) }));
      if (S.status.phase === 1 && R.keys) {
        parts.push(h('button', { type: 'button', class: 'primary', id: 'to-ballot', onclick: () => ui.onKeys(R.keys) }, L.to_ballot));
      } else if (S.status.phase === 1) {
        const pw = h('input', { id: 'unlock-pw', type: 'password', autocomplete: 'current-password' });
        parts.push(errBox, h('form', { onsubmit: (ev) => { ev.preventDefault(); unlock(ui, stored, pw.value); } },
          h('p', { id: 'unlock-intro', class: 'hint', text: L.unlock_intro }),
          h('label', { for: 'unlock-pw', text: L.password_label }), pw,
          h('button', { type: 'submit', class: 'primary', id: 'to-ballot' }, L.to_ballot)));
      } else {
        parts.push(errBox, h('p', { class: 'note', text: L.not_open }));
      }
    }
  }
  return h('fieldset', { class: 'register' }, h('legend', { text: L.method_login }), ...parts.filter(Boolean));
}

function fail(ui, e) {
  R.busy = false;
  R.error = e;
  ui.show('start');
  ui.alertText(sentence(ui.S.lang, e));
}

async function makeKey(ui, pw1, pw2) {
  if (R.busy) return;
  const L = TEXT[ui.S.lang];
  R.error = null;
  if (pw1.length < MIN_PASSWORD) return fail(ui, { code: 'KEY_PASSWORD_REQUIRED', key: 'pw_short' });
  if (pw1 !== pw2) return fail(ui, { code: 'KEY_PASSWORD_REQUIRED', key: 'pw_differ' });
  R.busy = true;
  R.error = null;
  ui.show('start');
  ui.announce(L.making_key);
  await new Promise((r) => setTimeout(r, 30));
  try {
    const { text } = makeKeyFile(pw1);
    localStorage.setItem(keyItem(ui.S.eid), text);
    R.busy = false;
    ui.show('start');
    ui.announce(L.key_kept);
  } catch (e) {
    fail(ui, e);
  }
}

async function signIn(ui, voterPublicHex) {
  if (R.busy) return;
  const reg = registrarUrl();
  if (!reg) return fail(ui, { code: 'USAGE', key: 'no_registrar' });
  R.busy = true;
  ui.announce(TEXT[ui.S.lang].signing_in);
  try {
    const returnTo = `${location.origin}${location.pathname}${location.search}`;
    const resp = await fetch(`${reg}/v1/login/start`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ election_id: toHex(ui.S.eid), voter_public: voterPublicHex, return_to: returnTo }),
    });
    const doc = await resp.json();
    if (!resp.ok) throw new BallotchainError(doc.error || 'WEB_NETWORK', doc.message || `HTTP ${resp.status}`);
    location.assign(await authorizationUrl(ui.S.manifest.login_provider, doc));
  } catch (e) {
    fail(ui, e.code ? e : new BallotchainError('WEB_NETWORK', String(e)));
  }
}

const mismatch = (why) => new BallotchainError('WEB_PROVIDER_MISMATCH', why);
const REQUEST_KEYS = ['response_type', 'redirect_uri', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method'];

/**
 * The authorization request, built from the manifest's provider (issuer, client id) and the
 * registrar's one-time parameters: the page, not the registrar, decides where the voter signs
 * in and for which client. The provider's discovery document must name the same issuer.
 */
export async function authorizationUrl(provider, answer) {
  if (!provider) throw mismatch('the election names no identity provider');
  const req = answer && answer.request;
  if (answer.issuer !== provider.issuer) throw mismatch('the registrar answers for another identity provider');
  if (!req || REQUEST_KEYS.some((k) => typeof req[k] !== 'string') || req.state !== answer.state ||
      req.response_type !== 'code' || req.code_challenge_method !== 'S256' || 'client_id' in req) {
    throw mismatch('the registrar sent an unusable sign-in request');
  }
  let meta;
  try {
    const r = await fetch(`${provider.issuer}/.well-known/openid-configuration`, { credentials: 'omit' });
    meta = await r.json();
  } catch (e) {
    throw new BallotchainError('REGISTRAR_PROVIDER_ERROR', `the identity provider cannot be reached (${e})`);
  }
  if (!meta || meta.issuer !== provider.issuer || typeof meta.authorization_endpoint !== 'string') {
    throw mismatch('the provider\u2019s discovery document names another issuer');
  }
  const endpoint = new URL(meta.authorization_endpoint);
  const loopback = LOOPBACK_HOSTS.includes(endpoint.hostname.replace(/^\[(.*)\]$/, '$1'));
  if (endpoint.protocol !== 'https:' && !(endpoint.protocol === 'http:' && loopback)) {
    throw mismatch('the provider\u2019s sign-in page is not https');
  }
  const params = new URLSearchParams({ client_id: provider.client_id });
  for (const k of REQUEST_KEYS) params.set(k, req[k]);
  endpoint.search = params.toString();
  return endpoint.toString();
}

function readHash(ui, stored) {
  R.hashRead = true;
  const frag = new URLSearchParams(location.hash.slice(1));
  if (!frag.has('login') && !frag.has('registration_error')) return;
  history.replaceState(null, '', `${location.pathname}${location.search}`);
  if (frag.has('registration_error')) {
    R.error = { code: frag.get('registration_error').replace(/[^A-Z0-9_]/g, '').slice(0, 40) };
    return;
  }
  const token = frag.get('login') || '';
  if (!stored || !/^[A-Za-z0-9_-]{16,100}$/.test(token)) {
    R.error = { code: 'WEB_NOT_REGISTERED' };
    return;
  }
  sessionStorage.setItem(tokenItem(ui.S.eid), token);
}

/** The key's holder finishes the sign-in: sign (election, token), register, check on chain. */
async function finishLogin(ui, stored, token, pw) {
  if (R.busy) return;
  const S = ui.S;
  R.busy = true;
  R.error = null;
  ui.show('start');
  ui.announce(TEXT[S.lang].finishing);
  await new Promise((r) => setTimeout(r, 30));
  try {
    const keys = loadKeyFile(stored, pw || null);
    const reg = registrarUrl();
    if (!reg) throw Object.assign(new BallotchainError('USAGE', 'no registrar'), { key: 'no_registrar' });
    const signature = keys.sign(FINISH_KIND, S.chainId, concat(S.eid, new TextEncoder().encode(token)));
    let resp;
    try {
      resp = await fetch(`${reg}/v1/login/finish`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token, signature: toHex(signature) }),
      });
    } catch (e) {
      throw new BallotchainError('WEB_NETWORK', String(e));
    }
    const doc = await resp.json();
    if (!resp.ok) {
      if (doc.error !== 'REGISTRAR_NOT_KEY_HOLDER') sessionStorage.removeItem(tokenItem(S.eid));
      throw new BallotchainError(doc.error || 'WEB_NETWORK', doc.message || `HTTP ${resp.status}`);
    }
    sessionStorage.removeItem(tokenItem(S.eid));
    ui.announce(TEXT[S.lang].checking_registration);
    await verifyRegistration({ base: S.base, genesis: S.genesis, chainId: S.chainId, eid: S.eid,
      voterPublic: keys.ed25519Public, code: doc.tracking_code });
    localStorage.setItem(regItem(S.eid), doc.tracking_code);
    R.keys = keys;
    R.busy = false;
    ui.show('start');
    ui.announce(TEXT[S.lang].registered.replace('{code}', doc.tracking_code.slice(0, 16)));
  } catch (e) {
    fail(ui, e);
  }
}

async function unlock(ui, stored, pw) {
  if (R.busy) return;
  R.busy = true;
  await new Promise((r) => setTimeout(r, 30));
  try {
    const keys = loadKeyFile(stored, pw || null);
    R.busy = false;
    R.error = null;
    ui.onKeys(keys);
  } catch (e) {
    fail(ui, e);
  }
}

export const registerState = () => ({ busy: R.busy, error: R.error && R.error.code });
