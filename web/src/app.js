// The voting page: one screen at a time, rendered from state, in Japanese or English.
//
// Trust: the page trusts no server. It pins the chain (genesis hash), checks that the
// manifest hashes to the election id in the address and passes validateManifest, checks
// every option image against its hash, encrypts and proves the ballot here, signs it
// with a key that never leaves the device, and verifies receipts (Merkle inclusion and
// commit certificate) against the genesis validator keys itself. Any failed check stops
// the page with a plain message and the error code.

import { decode } from './codec.js';
import { fromHex, toHex, equal } from './bytes.js';
import { sodium } from './sodium.js';
import { BallotchainError } from './errors.js';
import { MESSAGES, browserLanguage, t, errorText } from './i18n.js';
import { getJson, postTx } from './api.js';
import { electionId, validateManifest, checkSelections, RATING_LEVELS } from './manifest.js';
import { encryptBallot, verifyBallot, verifySpoiled } from './crypto/ballot.js';
import { loadKeyFile } from './keys.js';
import { normalize, codeKeys } from './otc.js';
import { signTx, txBytes, txHash, castBallot, spoilBallot } from './tx.js';
import { verifyReceipt, genesisHash } from './receipt.js';
import { cityLoginPanel, registerState, cancelledText } from './register.js';
import { cleanCode, codeProblem, shortCode, groupedCode, receiptFileText } from './tracking.js';
import qrcode from 'qrcode-generator';
import { plain, segments } from './yomi.js';
import { PHASES, VOTER_TX_LIFETIME_MS } from './constants.js';


const params = new URLSearchParams(location.search);
const S = {
  lang: params.get('lang') === 'en' || params.get('lang') === 'ja' ? params.get('lang') : browserLanguage(navigator.languages),
  base: location.origin,
  screen: 'loading',
  screenArgs: [],
  busy: false,
  eid: null,
  genesis: null,
  chainId: null,
  manifest: null,
  status: null,
  images: new Map(),
  keys: null,
  method: 'code',
  selections: null,
  errors: {},
};

// --- DOM helpers --------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const tr = (key, vars) => t(S.lang, key, vars);
// A label as text (readings dropped), and as nodes with its readings as <ruby> (yomi.js).
const label = (lbl) => (S.lang === 'ja' ? plain(lbl.ja) : lbl.en);
const labelNodes = (lbl) => (S.lang === 'ja'
  ? segments(lbl.ja).map(([base, reading]) => (reading ? h('ruby', {}, base, h('rt', { text: reading })) : base))
  : [lbl.en]);
const main = () => document.getElementById('main');

function announce(text) {
  const st = document.getElementById('status');
  st.textContent = '';
  setTimeout(() => (st.textContent = text), 50);
}

function alertText(text) {
  const el = document.getElementById('alert');
  el.textContent = '';
  if (text) setTimeout(() => (el.textContent = text), 50);
}

function errorSentence(e) {
  const code = e && e.code ? e.code : 'WEB_NETWORK';
  return `${errorText(S.lang, code)} (${tr('error_code')}: ${code})`;
}

// Every screen change clears both live regions, so a message never outlives its screen;
// the caller then announces the new state once (announce / alertText).
function show(screen, ...args) {
  S.screen = screen;
  S.screenArgs = args;
  for (const id of ['status', 'alert']) document.getElementById(id).textContent = '';
  render();
}

function render() {
  document.documentElement.lang = S.lang;
  document.title = tr('page_title');
  document.getElementById('site-title').textContent = tr('page_title');
  document.getElementById('skip').textContent = tr('skip');
  const nav = document.getElementById('lang-nav');
  nav.setAttribute('aria-label', tr('lang_label'));
  for (const b of nav.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.lang === S.lang));
  const m = main();
  m.replaceChildren(SCREENS[S.screen](...S.screenArgs));
  const head = m.querySelector('h2');
  if (head) {
    head.setAttribute('tabindex', '-1');
    head.focus();
  }
}

function setLang(lang) {
  S.lang = lang;
  render();
}

// --- loading and checks ---------------------------------------------------------------

function fatal(e) {
  S.busy = false;
  show('fatal', e);
  alertText(errorSentence(e));
}

async function loadChain() {
  const g = await getJson(S.base, '/v1/genesis');
  const genesis = decode('Genesis', fromHex(g.genesis_bytes));
  const chainId = genesisHash(genesis);
  const pinned = params.get('chain') || localStorage.getItem('ballotchain.chain');
  if (pinned && pinned.toLowerCase() !== toHex(chainId)) {
    throw new BallotchainError('WEB_WRONG_CHAIN', `expected chain ${pinned}, the node serves ${toHex(chainId)}`);
  }
  localStorage.setItem('ballotchain.chain', toHex(chainId));
  S.genesis = genesis;
  S.chainId = chainId;
}

async function loadElection() {
  const e = await getJson(S.base, `/v1/elections/${toHex(S.eid)}`);
  const m = decode('Manifest', fromHex(e.manifest_bytes));
  if (!equal(electionId(m), S.eid)) {
    throw new BallotchainError('WEB_MANIFEST_MISMATCH', 'the manifest does not hash to the election id');
  }
  validateManifest(m);
  const status = decode('ElectionStatus', fromHex(e.status_bytes));
  await crossCheck(e, status);
  S.manifest = m;
  S.status = status;
  await loadImages(m);
  if (!S.selections) S.selections = m.contests.map((c) => c.options.map(() => (c.kind === 'rating' ? null : 0)));
}

const same = (x, y) => (x === null || y === null ? x === y : equal(x, y));

// The election key and code salt decide where the ballot goes: a node that swapped them
// could read the vote. Ask a second node (the genesis's first observer) and refuse to go
// on if it disagrees. If that node cannot be reached the page goes on (said in README).
async function crossCheck(e, status) {
  const other = observerBase();
  if (!other || other === S.base) return;
  let e2;
  try {
    e2 = await getJson(other, `/v1/elections/${toHex(S.eid)}`);
  } catch (err) {
    if (err.code === 'WEB_NETWORK') return;
    throw new BallotchainError('WEB_NODES_DISAGREE', `${other} does not know this election (${err.code})`);
  }
  const s2 = decode('ElectionStatus', fromHex(e2.status_bytes));
  if (e2.manifest_bytes !== e.manifest_bytes || !same(s2.joint_key, status.joint_key) || !same(s2.code_salt, status.code_salt)) {
    throw new BallotchainError('WEB_NODES_DISAGREE', `${S.base} and ${other} give different election data`);
  }
}

async function loadImages(m) {
  for (const c of m.contests) {
    for (const o of c.options) {
      if (!o.image) continue;
      let bytes;
      let type;
      try {
        const resp = await fetch(new URL(o.image.uri, location.href));
        if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
        type = resp.headers.get('content-type') || 'application/octet-stream';
        bytes = new Uint8Array(await resp.arrayBuffer());
      } catch (err) {
        throw new BallotchainError('WEB_NETWORK', `image of ${o.id}: ${err.message}`);
      }
      if (!equal(sodium.crypto_hash_sha256(bytes), o.image.sha256)) {
        throw new BallotchainError('WEB_IMAGE_MISMATCH', `the image of option ${o.id} does not match its hash`);
      }
      S.images.set(`${c.id}/${o.id}`, URL.createObjectURL(new Blob([bytes], { type })));
    }
  }
}

// --- screens ----------------------------------------------------------------------------

const section = (title, ...children) => h('section', { 'aria-labelledby': 'screen-title' }, h('h2', { id: 'screen-title', text: title }), ...children);
const para = (text, attrs = {}) => h('p', { ...attrs, text });
const button = (text, onclick, attrs = {}) => h('button', { type: 'button', onclick, ...attrs }, text);

function chainLine() {
  return h('p', { class: 'fingerprint' },
    `${tr('chain_fingerprint')}: `, h('code', { text: toHex(S.chainId).slice(0, 16).match(/.{4}/g).join(' ') }),
    ` — ${tr('chain_hint')}`);
}

// Election times are Japan time whatever the device's zone, and say so.
function fmtTime(ms) {
  const text = new Date(Number(ms)).toLocaleString(S.lang === 'ja' ? 'ja-JP' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Asia/Tokyo' });
  return `${text} ${tr('jst')}`;
}

function electionHeader() {
  const m = S.manifest;
  const phase = PHASES[S.status.phase] || 'closed';
  return [
    h('p', { class: 'election-title' }, h('strong', { text: label(m.title) })),
    para(`${tr('period')}: ${fmtTime(m.start_ms)} – ${fmtTime(m.end_ms)}`),
    para(tr(`phase_${phase}`), { class: phase === 'open' ? 'ok' : 'note' }),
    chainLine(),
  ];
}

const SCREENS = {
  loading: () => section(tr('loading'), para(tr('loading'))),

  fatal: (e) => section(tr('fatal_heading'),
    h('div', { class: 'error-box' }, para(errorSentence(e))),
    e && e.detail ? h('details', {}, h('summary', { text: tr('error_code') }), h('pre', { text: e.detail })) : null,
    para(tr('fatal_help'))),

  chooser: () => {
    const input = h('input', { id: 'eid-input', name: 'eid', type: 'text', inputmode: 'latin', autocomplete: 'off', spellcheck: 'false', size: 40 });
    return section(tr('enter_election'),
      h('form', { onsubmit: (ev) => { ev.preventDefault(); location.href = `/vote/${input.value.trim().toLowerCase()}`; } },
        h('label', { for: 'eid-input', text: tr('election_id_label') }), input,
        h('button', { type: 'submit' }, tr('open_election'))));
  },

  start: () => {
    const open = S.status.phase === 1;
    const err = S.errors.start ? errorSentence(S.errors.start) : null; // in the language shown now
    const content = [...electionHeader()];
    if (S.manifest.eligibility === 'city-login') { // register.js: key made here, city login
      const onKeys = (keys) => { S.keys = keys; show('ballot'); };
      content.push(cityLoginPanel({ h, S, show, announce, alertText, onKeys }), receiptForm());
      return section(tr('election'), ...content);
    }
    if (open) {
      content.push(para(tr('time_note')));
      const codeForm = S.manifest.eligibility === 'one-time-code';
      const fields = codeForm
        ? [
            h('label', { for: 'code', text: tr('code_label') }),
            h('p', { id: 'code-hint', class: 'hint', text: tr('code_hint') }),
            h('input', { id: 'code', name: 'code', type: 'text', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false',
              'aria-describedby': err ? 'code-hint start-error' : 'code-hint', 'aria-invalid': err ? 'true' : null, value: S.codeTyped || '' }),
          ]
        : [
            h('p', { id: 'key-note', class: 'hint', text: tr('key_note') }),
            h('label', { for: 'keyfile', text: tr('key_file_label') }),
            keyFileInput(),
            h('label', { for: 'keypw', text: tr('key_password_label') }),
            h('input', { id: 'keypw', name: 'keypw', type: 'password', autocomplete: 'current-password',
              'aria-describedby': err ? 'key-note start-error' : 'key-note', 'aria-invalid': err ? 'true' : null }),
          ];
      content.push(h('form', { onsubmit: (ev) => { ev.preventDefault(); identify(codeForm); } },
        h('fieldset', {}, h('legend', { text: codeForm ? tr('method_code') : tr('method_key') }), ...fields,
          err ? h('p', { id: 'start-error', class: 'field-error', text: err }) : null),
        h('button', { type: 'submit', class: 'primary' }, tr('continue'))));
    }
    content.push(receiptForm());
    content.push(boxLink());
    return section(tr('election'), ...content);
  },

  ballot: () => {
    const m = S.manifest;
    // recomputed, so a switch of language shows them in the new one
    const errs = S.errors.ballot ? ballotErrors() : {};
    const anyErr = Object.keys(errs).length > 0;
    return section(tr('ballot_heading'),
      h('p', { class: 'election-title' }, h('strong', { text: label(m.title) })),
      anyErr ? h('div', { class: 'error-box', id: 'ballot-errors' }, para(tr('fix_errors')), h('ul', {}, Object.values(errs).map((x) => h('li', { text: x })))) : null,
      h('form', { onsubmit: (ev) => { ev.preventDefault(); review(); }, novalidate: true },
        m.contests.map((c, ci) => contestFieldset(c, ci, errs[ci])),
        h('button', { type: 'submit', class: 'primary' }, tr('review'))));
  },

  review: (err) => {
    const m = S.manifest;
    return section(tr('summary_heading'),
      summaryList(m, S.selections),
      speakButton(tr('read_aloud_summary'), summaryKeys(m, S.selections)),
      err ? h('div', { class: 'error-box', id: 'cast-error' }, para(errorSentence(err)),
        h('div', { class: 'actions' },
          button(S.manifest.eligibility === 'one-time-code' ? tr('use_another_code') : tr('start_again'), () => startAgain(), { id: 'start-again' }))) : null,
      h('div', { class: 'actions' },
        button(tr('cast'), () => cast(), { class: 'primary', id: 'cast' }),
        button(tr('change'), () => show('ballot'), { id: 'change' })),
      h('div', { class: 'audit-box' },
        para(tr('spoil_explain'), { id: 'spoil-explain' }),
        button(tr('spoil'), () => spoil(), { id: 'spoil', 'aria-describedby': 'spoil-explain' })));
  },

  working: (key) => section(tr(key), h('p', { class: 'busy', 'aria-busy': 'true', text: tr(key) })),

  castDone: (height, code, replaces) => {
    const revote = S.manifest.revoting && S.manifest.eligibility !== 'one-time-code';
    return section(tr('cast_done_heading'),
      h('p', { class: 'ok', text: tr('cast_done', { height }) }),
      replaces ? h('p', { class: 'note', id: 'replaces-note', text: tr('cast_replaces', { short: shortCode(replaces) }) }) : null,
      trackingBlock(code),
      h('div', { class: 'actions' },
        button(tr('verify_receipt'), () => checkReceipt(code), { class: 'primary', id: 'verify' }),
        revote ? button(tr('revote'), () => show('ballot'), { id: 'revote' }) : null),
      para(revote ? tr('revote_note') : tr('no_revote_code')));
  },

  castUnknown: (code) => section(tr('cast_unknown_heading'),
    h('div', { class: 'error-box' }, para(tr('cast_unknown'))),
    trackingBlock(code),
    h('div', { class: 'actions' },
      button(tr('check_now'), () => checkReceipt(code), { class: 'primary', id: 'check-now' }),
      button(tr('back_to_ballot'), () => show('review'), { id: 'back' }))),

  audit: (selections, spoilCode, postErr) => section(tr('audit_heading'),
    h('div', { class: 'note-box', id: 'not-voted' }, h('p', {}, h('strong', { text: tr('not_voted_yet') })), para(tr('not_voted_next'))),
    h('p', { class: 'ok', text: tr('audit_ok') }),
    summaryList(S.manifest, selections),
    spoilCode ? para(tr('audit_posted', { code: shortCode(spoilCode) }), { id: 'audit-posted' }) : para(`${tr('audit_not_posted')} ${postErr ? errorSentence(postErr) : ''}`),
    h('div', { class: 'actions' }, button(tr('fresh_ballot'), () => show('ballot'), { class: 'primary', id: 'fresh' }))),

  receipt: (code, state, info) => {
    const parts = code ? [trackingBlock(code)] : [];
    if (state === 'checking') parts.push(h('p', { class: 'busy', 'aria-busy': 'true', text: tr('receipt_checking', { node: info }) }));
    else if (state === 'ok') {
      const status = ballotStatusText(info.ballot);
      parts.push(h('div', { class: info.ballot && info.ballot.kind === 'spoil' ? 'ok-box spoiled' : 'ok-box', id: 'receipt-result' },
        h('h3', { text: tr('receipt_ok_title') }),
        status ? h('p', { class: 'ballot-status', id: 'ballot-status' }, h('strong', { text: status })) : null,
        para(tr('receipt_ok', { code: shortCode(code), chain: S.genesis.chain_id, height: info.height })),
        para(tr('receipt_ok_cert', { sigs: info.signatures, n: info.validators, quorum: info.quorum })),
        info.ballot && info.ballot.kind === 'spoil' ? null : para(tr('receipt_ok_meaning')),
        info.cancelled ? h('p', { class: 'note', id: 'receipt-cancelled', text: cancelledText(S.lang) }) : null,
        para(tr('receipt_from', { node: info.node }), { class: 'hint' })));
    } else if (state === 'pending') parts.push(para(tr('receipt_pending'), { class: 'note' }));
    else if (state === 'unknown') parts.push(h('div', { class: 'error-box', id: 'receipt-result' }, para(tr('receipt_unknown')), h('p', {}, `${tr('receipt_typed')}: `, h('code', { text: info || '' }))));
    else if (state === 'ambiguous') parts.push(h('div', { class: 'error-box', id: 'receipt-result' }, para(tr('receipt_ambiguous'))));
    else if (state === 'error') parts.push(h('div', { class: 'error-box', id: 'receipt-result' }, para(errorSentence(info))));
    if (S.manifest && S.status.phase === 1) {
      parts.push(h('div', { class: 'actions' }, button(tr('back_to_ballot'), () => show(S.keys ? 'ballot' : 'start'), { id: 'back' })));
    }
    parts.push(receiptForm(state === 'badformat' ? info : null));
    parts.push(boxLink());
    return section(tr('receipt_heading'), ...parts);
  },
};

const checkUrl = (code) => `${location.origin}/vote/${toHex(S.eid)}?receipt=${code}&chain=${toHex(S.chainId)}`;

const boxLink = () => h('p', { class: 'box-link' }, h('a', { href: `/vote/${toHex(S.eid)}/ballots`, id: 'box-link' }, tr('box_link')));

function keyFileInput() {
  const input = h('input', { id: 'keyfile', name: 'keyfile', type: 'file', accept: '.key,.json,application/json', 'aria-describedby': 'key-note' });
  if (S.keyFile) {
    const dt = new DataTransfer();
    dt.items.add(S.keyFile);
    input.files = dt.files;
  }
  return input;
}

function trackingBlock(code) {
  const qrBox = h('div', { class: 'qr', id: 'qr-box', hidden: true });
  const showQr = () => {
    const qr = qrcode(0, 'M');
    qr.addData(checkUrl(code));
    qr.make();
    qrBox.replaceChildren(h('img', { src: qr.createDataURL(4, 4), alt: tr('qr_alt', { short: shortCode(code) }), class: 'qr-image' }));
    qrBox.hidden = false;
    announce(tr('qr_shown'));
  };
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(code);
      announce(tr('copied'));
    } catch {
      alertText(tr('copy_failed'));
    }
  };
  const file = new Blob([receiptFileText({ code, electionId: toHex(S.eid), chainId: toHex(S.chainId), title: label(S.manifest.title), checkUrl: checkUrl(code) })], { type: 'text/plain' });
  return h('div', { class: 'tracking' },
    h('p', { class: 'tracking-label', text: tr('tracking_code') }),
    h('p', { class: 'tracking-short' }, `${tr('tracking_short')}: `, h('code', { text: shortCode(code) })),
    h('p', { class: 'tracking-code' }, `${tr('tracking_full')}: `, h('code', { text: groupedCode(code) })),
    para(tr('tracking_note'), { class: 'hint' }),
    h('div', { class: 'actions' },
      button(tr('copy_code'), copy, { id: 'copy-code' }),
      h('a', { class: 'button-link', id: 'save-code', href: URL.createObjectURL(file), download: `tracking-code-${code.slice(0, 16)}.txt` }, tr('save_code')),
      button(tr('show_qr'), showQr, { id: 'show-qr' }),
      button(tr('read_code'), () => speakCode(code), { id: 'read-code', class: 'speak' })),
    qrBox);
}

function receiptForm(problem) {
  const err = problem ? tr(`receipt_${problem}`) : null;
  const input = h('input', { id: 'receipt-code', name: 'receipt', type: 'text', autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': err ? 'receipt-hint receipt-error' : 'receipt-hint', 'aria-invalid': err ? 'true' : null, value: err ? S.receiptTyped || '' : '' });
  return h('form', { class: 'receipt-form', onsubmit: (ev) => { ev.preventDefault(); checkReceipt(input.value); } },
    h('label', { for: 'receipt-code', text: tr('receipt_form_label') }),
    h('p', { id: 'receipt-hint', class: 'hint', text: tr('receipt_form_hint') }),
    input,
    err ? h('p', { id: 'receipt-error', class: 'field-error', text: err }) : null,
    h('button', { type: 'submit' }, tr('receipt_check')));
}

// What became of a verified ballot, in one sentence: spoiled (opened for checking) is read
// from the transaction itself, whose hash is the tracking code; counted or replaced by a
// re-vote comes from the node's public ballot box.
function ballotStatusText(b) {
  if (!b) return null;
  if (b.kind === 'spoil') return tr('ballot_opened');
  if (b.status === 'replaced') return tr('ballot_replaced', { short: shortCode(b.replaced_by) });
  if (b.status === 'counted') return b.replaces ? tr('ballot_counted_replaces', { short: shortCode(b.replaces) }) : tr('ballot_counted');
  return null;
}

// What 0 and 100 of a rating mean: the manifest's labels (scale_low / scale_high), else
// the catalog's defaults. As text, and as nodes (a reading shown as ruby).
const scaleEnds = (c) => [c.scale_low ? label(c.scale_low) : tr('scale_low'), c.scale_high ? label(c.scale_high) : tr('scale_high')];
const scaleEndNodes = (c) => [c.scale_low ? labelNodes(c.scale_low) : [tr('scale_low')], c.scale_high ? labelNodes(c.scale_high) : [tr('scale_high')]];

function contestHint(c) {
  if (c.kind === 'single') return tr('choose_one');
  if (c.kind === 'rating') {
    const [low, high] = scaleEnds(c);
    return `${tr('rate_hint')} ${tr('rate_ends', { low, high })}`;
  }
  if (c.min_selections === 0) return tr('choose_upto', { max: c.max_selections });
  if (c.min_selections === c.max_selections) return tr('choose_exact', { min: c.min_selections });
  return tr('choose_range', { min: c.min_selections, max: c.max_selections });
}

function optionContent(c, o) {
  const img = S.images.get(`${c.id}/${o.id}`);
  // the label is right beside the picture: the picture is decorative (empty alt), so a
  // screen reader says the option once, not "picture of X, X"
  return [img ? h('img', { src: img, alt: '', class: 'option-image' }) : null, h('span', {}, ...labelNodes(o.label))];
}

function contestFieldset(c, ci, err) {
  const sel = S.selections[ci];
  const hintId = `hint-${ci}`;
  const errId = `err-${ci}`;
  const described = err ? `${hintId} ${errId}` : hintId;
  const body = [];
  if (c.kind === 'rating') {
    c.options.forEach((o, oi) => {
      const [lowNodes, highNodes] = scaleEndNodes(c); // fresh nodes per item: a node has one place
      // the ends of the scale under each item's levels, and in the names of its 0 and 100
      // buttons ("0 not at all"), so a screen reader says them where they are chosen
      const ends = { 0: `c${ci}-o${oi}-low`, 100: `c${ci}-o${oi}-high` };
      body.push(h('fieldset', { class: 'rating', 'aria-describedby': described },
        h('legend', {}, ...optionContent(c, o)),
        h('div', { class: 'levels' }, RATING_LEVELS.map((v) => {
          const id = `c${ci}-o${oi}-v${v}`;
          return h('label', { for: id, class: 'level' },
            h('input', { type: 'radio', id, name: `c${ci}-o${oi}`, value: String(v), checked: sel[oi] === v,
              'aria-labelledby': ends[v] ? `${id}-n ${ends[v]}` : null,
              onchange: () => { S.selections[ci][oi] = v; } }),
            h('span', { id: `${id}-n`, text: String(v) }));
        })),
        h('p', { class: 'scale-ends' },
          h('span', {}, '0: ', h('span', { id: ends[0] }, ...lowNodes)),
          h('span', {}, '100: ', h('span', { id: ends[100] }, ...highNodes)))));
    });
  } else {
    const type = c.kind === 'single' ? 'radio' : 'checkbox';
    c.options.forEach((o, oi) => {
      const id = `c${ci}-o${oi}`;
      body.push(h('div', { class: 'choice' },
        h('input', { type, id, name: `c${ci}`, value: o.id, checked: sel[oi] === 1,
          onchange: (ev) => {
            if (type === 'radio') S.selections[ci] = c.options.map((_, j) => (j === oi ? 1 : 0));
            else S.selections[ci][oi] = ev.target.checked ? 1 : 0;
          } }),
        h('label', { for: id }, ...optionContent(c, o))));
    });
  }
  return h('fieldset', { class: 'contest', id: `contest-${ci}`, 'aria-describedby': described, 'aria-invalid': err ? 'true' : null },
    h('legend', {}, h('span', { class: 'contest-title' }, ...labelNodes(c.title))),
    h('p', { id: hintId, class: 'hint', text: contestHint(c) }),
    speakButton(tr('read_aloud_contest', { title: label(c.title) }), contestKeys(c, ci)),
    err ? h('p', { id: errId, class: 'field-error', text: err }) : null,
    ...body);
}

function summaryList(m, selections) {
  return h('dl', { class: 'summary' }, m.contests.map((c, ci) => {
    const sel = selections[ci];
    let items;
    if (c.kind === 'rating') items = c.options.map((o, oi) => `${label(o.label)}: ${tr('rating_value', { v: sel[oi] })}`);
    else items = c.options.filter((_, oi) => sel[oi] === 1).map((o) => label(o.label));
    return [h('dt', { text: label(c.title) }), h('dd', {}, items.length ? h('ul', {}, items.map((x) => h('li', { text: x }))) : tr('summary_none'))];
  }));
}

// --- read aloud: clips the node renders from the manifest (never from the voter's choices) ---

const clipCache = new Map();
// a rating contest also says what 0 and 100 mean (clip c<i>s), before its items
const contestKeys = (c, ci) => [`c${ci}`, ...(c.kind === 'rating' ? [`c${ci}s`] : []), ...c.options.map((_, oi) => `c${ci}o${oi}`)];

function summaryKeys(m, selections) {
  // Every clip of the election is fetched, whatever was chosen: the node must not
  // learn the vote from which clips the page asks for. Only the chosen ones are played.
  const keys = [];
  m.contests.forEach((c, ci) => {
    keys.push(`c${ci}`);
    c.options.forEach((o, oi) => {
      if (c.kind === 'rating') keys.push(`c${ci}o${oi}`, `n${selections[ci][oi]}`);
      else if (selections[ci][oi] === 1) keys.push(`c${ci}o${oi}`);
    });
  });
  return keys;
}

function allClipKeys(m) {
  const keys = [];
  m.contests.forEach((c, ci) => keys.push(...contestKeys(c, ci)));
  RATING_LEVELS.forEach((v) => keys.push(`n${v}`));
  return keys;
}

async function clip(key) {
  const k = `${S.lang}/${key}`;
  if (!clipCache.has(k)) {
    clipCache.set(k, fetch(`/vote/speech/${toHex(S.eid)}/${S.lang}/${key}.wav`).then((r) => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return r.blob();
    }));
  }
  return clipCache.get(k);
}

async function speak(keys) {
  try {
    const all = allClipKeys(S.manifest).map(clip);
    await Promise.all(all);
    for (const key of keys) {
      const blob = await clip(key);
      const audio = new Audio(URL.createObjectURL(blob));
      await new Promise((resolve) => {
        audio.onended = resolve;
        audio.onerror = resolve;
        audio.play().catch(resolve);
      });
    }
  } catch {
    alertText(tr('speech_unavailable'));
  }
}

const speakButton = (text, keys) => button(text, () => speak(keys), { class: 'speak' });

// The short form of a tracking code, letter by letter with a pause between the groups of 4.
// All 16 digit clips are fetched whatever the code, so the node does not learn it this way.
async function speakCode(code) {
  const screenAt = S.screen;
  try {
    const digits = [...'0123456789abcdef'];
    await Promise.all(digits.map((d) => clip(`h${d}`)));
    for (const [i, d] of [...code.slice(0, 16)].entries()) {
      if (i > 0 && i % 4 === 0) await new Promise((r) => setTimeout(r, 400));
      const audio = new Audio(URL.createObjectURL(await clip(`h${d}`)));
      await new Promise((resolve) => {
        audio.onended = resolve;
        audio.onerror = resolve;
        audio.play().catch(resolve);
      });
    }
    if (S.screen === screenAt) announce(tr('code_read')); // never onto a later screen
  } catch {
    alertText(tr('speech_unavailable'));
  }
}

// --- actions ----------------------------------------------------------------------------

async function identify(codeForm) {
  if (S.busy) return;
  S.errors.start = null;
  try {
    if (codeForm) {
      S.codeTyped = document.getElementById('code').value;
      normalize(S.codeTyped); // a typo is reported before anything else happens
      if (!S.status.code_salt) throw new BallotchainError('WEB_NOT_OPEN', 'no voting codes are registered yet');
      const keys = codeKeys(S.eid, S.status.code_salt, S.codeTyped);
      await checkEligible(keys);
      S.keys = keys;
    } else {
      const file = document.getElementById('keyfile').files[0];
      if (!file) throw new BallotchainError('KEY_FILE_MALFORMED', 'no file chosen');
      S.keyFile = file; // kept if the password is wrong: the voter retypes only the password
      const text = await file.text();
      const pw = document.getElementById('keypw').value;
      S.busy = true;
      announce(tr('opening_key'));
      await new Promise((r) => setTimeout(r, 30));
      const keys = loadKeyFile(text, pw || null);
      await checkEligible(keys);
      S.keys = keys;
    }
    S.busy = false;
    show('ballot');
    announce(tr('ballot_ready'));
  } catch (e) {
    S.busy = false;
    S.errors.start = e;
    show('start');
    alertText(errorSentence(e));
    const pwWrong = e && (e.code === 'KEY_WRONG_PASSWORD' || e.code === 'KEY_PASSWORD_REQUIRED');
    const field = document.getElementById(codeForm ? 'code' : pwWrong ? 'keypw' : 'keyfile');
    if (field) field.focus();
  }
}

// The code's (or key's) voter record is public on the chain: a used, unregistered or
// already-voted key is refused here, on the start screen, not after the whole ballot.
// If the node cannot say, the voter goes on (the cast itself is checked by every validator).
async function checkEligible(keys) {
  let v;
  try {
    v = await getJson(S.base, `/v1/elections/${toHex(S.eid)}/voters/${toHex(keys.ed25519Public)}`);
  } catch (e) {
    if (e.code === 'API_NOT_FOUND') throw new BallotchainError('TX_NOT_ELIGIBLE', 'this key is not a registered voter of this election');
    return;
  }
  if (v.ballots > 0 && v.single_use) throw new BallotchainError('TX_CODE_USED', 'this voting code was already used');
  if (v.ballots > 0 && !S.manifest.revoting) throw new BallotchainError('TX_REVOTE_NOT_ALLOWED', 'this voter already voted');
}

// After a refusal at cast time: back to the start screen with the choices kept, so the
// voter can type another code (or open the key file again) without reloading.
function startAgain() {
  S.keys = null;
  S.keyFile = null;
  S.codeTyped = '';
  S.errors.start = null;
  show('start');
}

function ballotErrors() {
  const errs = {};
  S.manifest.contests.forEach((c, ci) => {
    const sel = S.selections[ci];
    const title = label(c.title);
    if (c.kind === 'rating') {
      const missing = c.options.filter((_, oi) => sel[oi] === null).map((o) => `${tr('quote_open')}${label(o.label)}${tr('quote_close')}`);
      if (missing.length) errs[ci] = tr('err_rating', { title, items: missing.join(tr('list_sep')) });
      return;
    }
    const k = sel.reduce((a, b) => a + b, 0);
    if (c.kind === 'single' && k !== 1) errs[ci] = tr('err_single', { title });
    else if (k < c.min_selections || k > c.max_selections) errs[ci] = tr('err_range', { title, min: c.min_selections, max: c.max_selections, k });
  });
  return errs;
}

function review() {
  const errs = ballotErrors();
  S.errors.ballot = errs;
  if (Object.keys(errs).length) {
    show('ballot');
    alertText(`${tr('fix_errors')} ${Object.values(errs).join(' ')}`);
    const first = main().querySelector('[aria-invalid="true"] input');
    if (first) first.focus();
    return;
  }
  checkSelections(S.manifest, S.selections);
  show('review');
}

const pause = () => new Promise((r) => setTimeout(r, 30)); // let the status paint

function encryptNow() {
  const key = S.status.joint_key;
  const { ballot, secrets } = encryptBallot(S.manifest, key, S.keys.ed25519Public, S.selections);
  verifyBallot(S.manifest, key, S.keys.ed25519Public, ballot); // never send what would be refused
  return { ballot, secrets };
}

function signed(body) {
  const raw = txBytes(signTx(S.keys, S.chainId, body, Date.now() + VOTER_TX_LIFETIME_MS));
  return { hex: toHex(raw), code: toHex(txHash(raw)) };
}

async function cast() {
  if (S.busy) return; // a double click never casts twice
  S.busy = true;
  let tx = null;
  try {
    show('working', 'encrypting');
    await pause();
    const { ballot } = encryptNow();
    tx = signed(castBallot(ballot));
    show('working', 'sending');
    const r = await postTx(S.base, tx.hex);
    const box = S.manifest.revoting ? await ballotInfo(S.base, tx.code) : null;
    const replaces = box && box.replaces ? box.replaces : null;
    S.busy = false;
    if (S.manifest.eligibility === 'one-time-code') S.keys = null; // a code votes once: no way back to its ballot
    show('castDone', r.height, tx.code, replaces);
    announce([tr('cast_done', { height: r.height }), replaces ? tr('cast_replaces', { short: shortCode(replaces) }) : ''].join(' ').trim());
  } catch (e) {
    S.busy = false;
    if (tx && (e.code === 'WEB_NETWORK' || e.code === 'API_COMMIT_TIMEOUT' || e.code === 'NODE_DUPLICATE_TX')) {
      show('castUnknown', tx.code);
      alertText(tr('cast_unknown'));
    } else {
      show('review', e);
      alertText(errorSentence(e));
    }
  }
}

async function spoil() {
  if (S.busy) return;
  S.busy = true;
  try {
    show('working', 'encrypting');
    await pause();
    const { ballot, secrets } = encryptNow();
    const opened = verifySpoiled(S.manifest, S.status.joint_key, S.keys.ed25519Public, ballot, secrets);
    const tx = signed(spoilBallot(ballot, secrets));
    let posted = null;
    let postErr = null;
    try {
      show('working', 'sending');
      await postTx(S.base, tx.hex);
      posted = tx.code;
    } catch (e) {
      postErr = e;
    }
    S.busy = false;
    show('audit', opened, posted, postErr);
    announce(`${tr('audit_heading')}. ${tr('not_voted_yet')} ${tr('not_voted_next')}`);
  } catch (e) {
    S.busy = false;
    show('review', e);
    alertText(errorSentence(e));
  }
}

function observerBase() {
  const obs = S.genesis.observers[0];
  return obs ? `${location.protocol}//${obs.address}` : null;
}

/** What the node's ballot box says of a verified ballot; its kind is read from the
 * transaction bytes, which must hash to the tracking code (so a node cannot pass a
 * "check my ballot" off as a counted vote). Null if the node does not say. */
async function ballotInfo(node, code) {
  try {
    const t = await getJson(node, `/v1/txs/${code}`);
    const raw = fromHex(t.tx_bytes);
    if (toHex(txHash(raw)) !== code) return null;
    const type = decode('Tx', raw).body.$type;
    const kind = type === 'SpoilBallot' ? 'spoil' : type === 'CastBallot' ? 'cast' : 'other';
    let box = {};
    try {
      box = await getJson(node, `/v1/ballots/${code}`);
    } catch {
      box = {};
    }
    const hex64 = (x) => (typeof x === 'string' && /^[0-9a-f]{64}$/.test(x) ? x : null);
    return { kind, status: kind === 'cast' ? box.status : null, replaced_by: hex64(box.replaced_by), replaces: hex64(box.replaces) };
  } catch {
    return null;
  }
}

function announceReceipt(state, text) {
  if (state === 'ok') announce(text);
  else alertText(text);
}

async function checkReceipt(typed) {
  S.receiptTyped = typed;
  const problem = codeProblem(typed);
  if (problem) {
    show('receipt', null, 'badformat', problem);
    alertText(tr(`receipt_${problem}`));
    const input = document.getElementById('receipt-code');
    if (input) input.focus();
    return;
  }
  let code = cleanCode(typed);
  if (code.length < 64) {
    // a short form: the node's ballot box names the one ballot that starts with it
    show('receipt', null, 'checking', S.base);
    try {
      const b = await getJson(S.base, `/v1/ballots/${code}`);
      if (typeof b.tracking_code !== 'string' || !/^[0-9a-f]{64}$/.test(b.tracking_code) || !b.tracking_code.startsWith(code)) {
        throw new BallotchainError('CODEC_MALFORMED', 'the node named a ballot that does not start with the short code');
      }
      code = b.tracking_code;
    } catch (e) {
      if (e.code === 'RECEIPT_NOT_FOUND' || e.code === 'API_NOT_FOUND') {
        show('receipt', null, 'unknown', typed.trim());
        alertText(tr('receipt_unknown'));
      } else if (e.code === 'RECEIPT_AMBIGUOUS') {
        show('receipt', null, 'ambiguous');
        alertText(tr('receipt_ambiguous'));
      } else {
        show('receipt', null, 'error', e);
        alertText(errorSentence(e));
      }
      return;
    }
  }
  const nodes = [observerBase(), S.base].filter(Boolean);
  let lastErr = null;
  for (const node of nodes) {
    show('receipt', code, 'checking', node);
    announce(tr('receipt_checking', { node }));
    try {
      const r = await getJson(node, `/v1/receipts/${code}`);
      const proof = decode('InclusionProof', fromHex(r.inclusion_proof_bytes));
      const cert = r.certificate_bytes ? decode('CommitCertificate', fromHex(r.certificate_bytes)) : null;
      const out = verifyReceipt({ trackingCode: fromHex(code), genesis: S.genesis, chainId: S.chainId, proof, cert });
      const ballot = await ballotInfo(node, code);
      show('receipt', code, 'ok', { ...out, node, ballot, cancelled: r.cancelled === true });
      announceReceipt('ok', [tr('receipt_ok_title'), ballotStatusText(ballot)].filter(Boolean).join(' '));
      return;
    } catch (e) {
      lastErr = e;
      // an observer follows the validators a block or so behind: a ballot just committed may
      // not be there yet, so a node that does not know it is no answer; ask the next one
      if (e.code === 'API_NOT_FOUND') continue;
      if (e.code !== 'WEB_NETWORK') break; // a proof that fails is not retried elsewhere: it is reported
    }
  }
  if (lastErr && lastErr.code === 'API_NOT_FOUND') {
    try {
      const t = await getJson(S.base, `/v1/txs/${code}`);
      show('receipt', code, t.status === 'committed' ? 'error' : 'pending', lastErr);
      announceReceipt(t.status === 'committed' ? 'error' : 'ok', t.status === 'committed' ? errorSentence(lastErr) : tr('receipt_pending'));
    } catch {
      show('receipt', null, 'unknown', code);
      alertText(tr('receipt_unknown'));
    }
    return;
  }
  show('receipt', code, 'error', lastErr);
  alertText(errorSentence(lastErr));
}

// --- the public ballot box ---------------------------------------------------------------------

const BOX_PAGE = 100;

async function loadBox(query, offset) {
  S.boxQuery = query;
  const q = cleanCode(query);
  if (q && !/^[0-9a-f]+$/.test(q)) {
    show('ballots', S.box || null, 'format');
    alertText(tr('box_format'));
    return;
  }
  try {
    const doc = await getJson(S.base, `/v1/elections/${toHex(S.eid)}/ballots?q=${q}&offset=${offset}&limit=${BOX_PAGE}`);
    S.box = doc;
    show('ballots', doc, null);
    announce(boxSummary(doc));
  } catch (e) {
    show('ballots', null, e);
    alertText(errorSentence(e));
  }
}

function boxSummary(doc) {
  if (doc.matching === 0) return doc.query ? tr('box_none_match') : tr('box_empty');
  return tr('box_showing', { from: doc.offset + 1, to: Math.min(doc.offset + doc.limit, doc.matching), n: doc.matching });
}

const STATUS_WORDS = { counted: 'box_counted', replaced: 'box_replaced', cancelled: 'box_cancelled', opened: 'box_opened' };

function ballotsScreen(doc, err) {
  const input = h('input', { id: 'box-q', name: 'q', type: 'text', autocomplete: 'off', spellcheck: 'false', value: S.boxQuery || '',
    'aria-describedby': err === 'format' ? 'box-hint box-error' : 'box-hint', 'aria-invalid': err === 'format' ? 'true' : null });
  const parts = [
    h('p', { class: 'election-title' }, h('strong', {}, ...labelNodes(S.manifest.title))),
    para(tr('box_intro')),
  ];
  if (doc) {
    const c = doc.counts;
    parts.push(h('dl', { class: 'box-counts', id: 'box-counts' },
      h('dt', { text: tr('box_ballots') }), h('dd', { text: String(c.ballots) }),
      h('dt', { text: tr('box_counted') }), h('dd', { text: String(c.counted) }),
      h('dt', { text: tr('box_replaced') }), h('dd', { text: String(c.replaced) }),
      h('dt', { text: tr('box_cancelled') }), h('dd', { text: String(c.cancelled || 0) }),
      h('dt', { text: tr('box_opened') }), h('dd', { text: String(c.opened) })));
  }
  parts.push(h('form', { class: 'receipt-form', role: 'search', onsubmit: (ev) => { ev.preventDefault(); loadBox(input.value, 0); } },
    h('label', { for: 'box-q', text: tr('box_search_label') }),
    h('p', { id: 'box-hint', class: 'hint', text: tr('box_search_hint') }),
    input,
    err === 'format' ? h('p', { id: 'box-error', class: 'field-error', text: tr('box_format') }) : null,
    h('button', { type: 'submit' }, tr('box_search'))));
  if (err && err !== 'format') parts.push(h('div', { class: 'error-box' }, para(errorSentence(err))));
  if (doc) {
    parts.push(para(boxSummary(doc), { id: 'box-summary' }));
    if (doc.ballots.length) {
      parts.push(h('table', { class: 'box-table', id: 'box-table' },
        h('caption', { class: 'visually-hidden', text: tr('box_heading') }),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: tr('tracking_code') }), h('th', { scope: 'col', text: tr('box_status') }))),
        h('tbody', {}, doc.ballots.map((b) => h('tr', {},
          h('td', {}, h('strong', {}, h('code', { text: b.short })), h('br'), h('code', { class: 'full-code', text: groupedCode(b.tracking_code) })),
          h('td', { text: STATUS_WORDS[b.status] ? tr(STATUS_WORDS[b.status]) : b.status }))))));
    }
    const prev = doc.offset > 0;
    const next = doc.offset + doc.limit < doc.matching;
    if (prev || next) {
      parts.push(h('div', { class: 'actions' },
        prev ? button(tr('box_prev'), () => loadBox(S.boxQuery, Math.max(0, doc.offset - doc.limit)), { id: 'box-prev' }) : null,
        next ? button(tr('box_next'), () => loadBox(S.boxQuery, doc.offset + doc.limit), { id: 'box-next' }) : null));
    }
  }
  parts.push(h('p', {}, h('a', { href: `/vote/${toHex(S.eid)}`, id: 'to-vote' }, tr('box_to_vote'))));
  return section(tr('box_heading'), ...parts);
}

SCREENS.ballots = ballotsScreen;

// --- start ----------------------------------------------------------------------------------

async function boot() {
  window.__ballotchainReady = true;
  for (const b of document.querySelectorAll('#lang-nav button')) b.addEventListener('click', () => setLang(b.dataset.lang));
  render();
  const path = location.pathname.replace(/\/+$/, '');
  const m = /^\/vote\/([0-9a-fA-F]{64})(\/ballots)?$/.exec(path);
  try {
    await loadChain();
    if (!m) {
      show('chooser');
      return;
    }
    S.eid = fromHex(m[1].toLowerCase());
    await loadElection();
    if (m[2]) {
      await loadBox('', 0);
      return;
    }
    const receipt = params.get('receipt');
    if (receipt) await checkReceipt(receipt);
    else show('start');
  } catch (e) {
    fatal(e);
  }
}

// Tests read page state through this (no secrets: the phase and screen only).
window.__ballotchain = { state: () => ({ screen: S.screen, lang: S.lang, busy: S.busy, register: registerState() }), messages: MESSAGES };
boot();
