// Election manifests, as ballot_tx/manifest.py: the election id, contest widths, the
// checks of validate_manifest (same codes, same order) and of check_selections.
//
// Selections: one array per contest, one integer per option: 0/1 for single and
// multiple choice, the rating 0, 10, ..., 100 for a rating contest.

import { sodium } from './sodium.js';
import { digest } from './hash.js';
import { CryptoError, ManifestError } from './errors.js';

import {
  MANIFEST_VERSION, CONTEST_KINDS, ELIGIBILITY_METHODS, RATING_LEVELS, RATING_STEP,
  MAX_BALLOT_CIPHERTEXTS, LABEL_MAX, MAX_PER_VOTER, ISSUER_MAX, CLIENT_ID_MAX, LOOPBACK_HOSTS,
} from './constants.js';

export {
  MANIFEST_VERSION, CONTEST_KINDS, ELIGIBILITY_METHODS, RATING_LEVELS, RATING_STEP,
  MAX_BALLOT_CIPHERTEXTS, LABEL_MAX, MAX_PER_VOTER, ISSUER_MAX, CLIENT_ID_MAX,
};
const ID_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/** The 32-byte election id: digest(manifest). */
export const electionId = (m) => digest('Manifest', m);

/** Ciphertexts a contest takes on a ballot (11 per rating item). */
export const contestWidth = (c) => c.options.length * (c.kind === 'rating' ? RATING_LEVELS.length : 1);

// Python's str.isspace() characters (str.strip() strips exactly these).
const PY_SPACE = new Set(
  '\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000',
);
const chars = (s) => Array.from(s);
const fail = (code, field, why) => new ManifestError(code, `${field}: ${why}`);

function checkText(s, field, maxLen = LABEL_MAX) {
  const cs = chars(s);
  if (cs.every((ch) => PY_SPACE.has(ch))) throw fail('MANIFEST_BAD_FIELD', field, 'must not be empty');
  if (cs.length > maxLen) throw fail('MANIFEST_BAD_FIELD', field, `longer than ${maxLen} characters`);
  if (cs.some((ch) => ch.codePointAt(0) < 32 && ch !== '\n')) {
    throw fail('MANIFEST_BAD_FIELD', field, 'contains control characters');
  }
}

function checkLabel(lbl, field) {
  checkText(lbl.ja, `${field}.ja`);
  checkText(lbl.en, `${field}.en`);
}

function checkId(s, field) {
  if (!ID_RE.test(s)) {
    throw fail('MANIFEST_BAD_FIELD', field, `'${s}' is not an id (1-64 of a-z 0-9 _ . -, starting with a letter or digit)`);
  }
}

// The city-login provider, as ballot_tx/eligibility/city_login.py check_login_provider.

/** [host, port] of an authority without user info (`[v6]` unbracketed), or null. */
function hostPort(authority) {
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return null;
    const rest = authority.slice(close + 1);
    if (rest && !rest.startsWith(':')) return null;
    return [authority.slice(1, close), rest.slice(1)];
  }
  const i = authority.indexOf(':');
  if (i < 0) return [authority, ''];
  const port = authority.slice(i + 1);
  return port.includes(':') ? null : [authority.slice(0, i), port];
}

function checkIssuer(iss, field) {
  const bad = (why) => fail('MANIFEST_BAD_PROVIDER', field, why);
  const shape = 'must be scheme://host[:port][/path] without user, query or fragment';
  const cs = chars(iss);
  if (cs.length === 0 || cs.length > ISSUER_MAX) throw bad(`must be 1 to ${ISSUER_MAX} characters`);
  if (cs.some((ch) => ch.codePointAt(0) <= 32 || ch.codePointAt(0) === 127)) throw bad('contains spaces or control characters');
  const afterScheme = iss.includes('://') ? iss.slice(iss.indexOf('://') + 3) : '';
  if (iss.includes('?') || iss.includes('#') || afterScheme.split('/')[0].includes('@')) throw bad(shape);
  const u = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)$/.exec(iss);
  const hp = u ? hostPort(u[2]) : null;
  if (!u || !hp || (hp[1] && (!/^[0-9]+$/.test(hp[1]) || Number(hp[1]) > 65535))) throw bad(`'${iss.slice(0, 80)}' is not a URL`);
  const scheme = u[1].toLowerCase();
  const host = hp[0].toLowerCase();
  if (scheme !== 'https' && !(scheme === 'http' && LOOPBACK_HOSTS.includes(host))) throw bad(`'${iss.slice(0, 80)}' is not an https URL`);
  if (!host) throw bad(shape);
  if (iss.endsWith('/')) throw bad("must not end with '/' (tokens name the issuer without it)");
}

function checkLoginProvider(p, field = 'login_provider') {
  if (p === null || p === undefined) throw fail('MANIFEST_BAD_PROVIDER', field, 'a city-login election must name its identity provider');
  checkIssuer(p.issuer, `${field}.issuer`);
  const cid = p.client_id;
  const cs = chars(cid);
  if (cs.every((ch) => PY_SPACE.has(ch)) || cs.length > CLIENT_ID_MAX) {
    throw fail('MANIFEST_BAD_PROVIDER', `${field}.client_id`, `must be 1 to ${CLIENT_ID_MAX} characters`);
  }
  if (cs.some((ch) => ch.codePointAt(0) < 32 || ch.codePointAt(0) === 127) || PY_SPACE.has(cs[0]) || PY_SPACE.has(cs[cs.length - 1])) {
    throw fail('MANIFEST_BAD_PROVIDER', `${field}.client_id`, 'contains control characters or leading/trailing spaces');
  }
}

function checkContest(c, field) {
  checkId(c.id, `${field}.id`);
  checkLabel(c.title, `${field}.title`);
  if (!CONTEST_KINDS.includes(c.kind)) throw fail('MANIFEST_BAD_CONTEST', `${field}.kind`, `'${c.kind}' is not a contest kind`);
  const n = c.options.length;
  if (n < (c.kind === 'rating' ? 1 : 2)) throw fail('MANIFEST_BAD_CONTEST', `${field}.options`, 'too few options');
  const seen = new Set();
  c.options.forEach((o, i) => {
    const of = `${field}.options[${i}]`;
    checkId(o.id, `${of}.id`);
    if (seen.has(o.id)) throw fail('MANIFEST_DUPLICATE_ID', `${of}.id`, `'${o.id}' appears twice`);
    seen.add(o.id);
    checkLabel(o.label, `${of}.label`);
    if (o.image !== null) {
      checkText(o.image.uri, `${of}.image.uri`, 500);
      if (chars(o.image.uri).some((ch) => PY_SPACE.has(ch))) throw fail('MANIFEST_BAD_FIELD', `${of}.image.uri`, 'contains spaces');
    }
  });
  const lo = c.min_selections;
  const hi = c.max_selections;
  if (c.kind === 'single' && !(lo === 1 && hi === 1)) {
    throw fail('MANIFEST_BAD_CONTEST', `${field}.min_selections`, 'single choice needs min = max = 1');
  }
  if (c.kind === 'multiple' && !(lo >= 0 && lo <= hi && hi <= n && hi >= 1)) {
    throw fail('MANIFEST_BAD_CONTEST', `${field}.max_selections`, `need 0 <= min <= max <= ${n} options and max >= 1, got ${lo}..${hi}`);
  }
  if (c.kind === 'rating' && !(lo === n && hi === n)) {
    throw fail('MANIFEST_BAD_CONTEST', `${field}.min_selections`, `a rating contest rates every item: min = max = ${n}`);
  }
  for (const name of ['scale_low', 'scale_high']) {
    const end = c[name] ?? null;
    if (end === null) continue;
    if (c.kind !== 'rating') throw fail('MANIFEST_BAD_CONTEST', `${field}.${name}`, `only a rating contest has a scale, not a ${c.kind} contest`);
    checkLabel(end, `${field}.${name}`);
  }
}

const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** Throw ManifestError (naming the field) unless m is a usable election. */
export function validateManifest(m) {
  if (m.version !== MANIFEST_VERSION) throw fail('MANIFEST_VERSION', 'version', `${m.version} is not ${MANIFEST_VERSION}`);
  checkId(m.name, 'name');
  checkLabel(m.title, 'title');
  if (m.contests.length === 0) throw fail('MANIFEST_BAD_CONTEST', 'contests', 'at least one contest is needed');
  const seen = new Set();
  m.contests.forEach((c, i) => {
    checkContest(c, `contests[${i}]`);
    if (seen.has(c.id)) throw fail('MANIFEST_DUPLICATE_ID', `contests[${i}].id`, `'${c.id}' appears twice`);
    seen.add(c.id);
  });
  const width = m.contests.reduce((a, c) => a + contestWidth(c), 0);
  if (width > MAX_BALLOT_CIPHERTEXTS) {
    throw fail('MANIFEST_TOO_LARGE', 'contests', `a ballot would hold ${width} ciphertexts > ${MAX_BALLOT_CIPHERTEXTS}`);
  }
  if (!ELIGIBILITY_METHODS.includes(m.eligibility)) {
    throw fail('MANIFEST_BAD_FIELD', 'eligibility', `'${m.eligibility}' is not an eligibility method`);
  }
  if (m.eligibility === 'city-login') checkLoginProvider(m.login_provider);
  else if (m.login_provider !== null && m.login_provider !== undefined) {
    throw fail('MANIFEST_BAD_PROVIDER', 'login_provider', `only a city-login election names an identity provider, not '${m.eligibility}'`);
  }
  if (!(BigInt(m.start_ms) < BigInt(m.end_ms))) throw fail('MANIFEST_BAD_TIMES', 'end_ms', 'voting must end after it starts');
  if (m.max_spoils_per_voter > MAX_PER_VOTER) {
    throw fail('MANIFEST_BAD_FIELD', 'max_spoils_per_voter', `${m.max_spoils_per_voter} is more than ${MAX_PER_VOTER}`);
  }
  if (!(m.max_ballots_per_voter >= 1 && m.max_ballots_per_voter <= MAX_PER_VOTER)) {
    throw fail('MANIFEST_BAD_FIELD', 'max_ballots_per_voter', `need 1 <= max_ballots_per_voter <= ${MAX_PER_VOTER}, got ${m.max_ballots_per_voter}`);
  }
  const n = m.trustees.length;
  if (n === 0) throw fail('MANIFEST_BAD_TRUSTEES', 'trustees', 'at least one trustee is needed');
  if (!(m.threshold >= 1 && m.threshold <= n)) {
    throw fail('MANIFEST_BAD_TRUSTEES', 'threshold', `need 1 <= threshold <= ${n}, got ${m.threshold}`);
  }
  const names = new Set();
  const keys = new Set();
  m.trustees.forEach((t, i) => {
    const tf = `trustees[${i}]`;
    checkText(t.name, `${tf}.name`, 100);
    if (names.has(t.name)) throw fail('MANIFEST_DUPLICATE_ID', `${tf}.name`, `'${t.name}' appears twice`);
    names.add(t.name);
    if (!sodium.crypto_core_ed25519_is_valid_point(t.ed25519_public)) {
      throw fail('MANIFEST_BAD_TRUSTEES', `${tf}.ed25519_public`, 'not a valid key');
    }
    if (t.x25519_public.every((x) => x === 0)) throw fail('MANIFEST_BAD_TRUSTEES', `${tf}.x25519_public`, 'not a valid key');
    for (const [k, kf] of [[t.ed25519_public, 'ed25519_public'], [t.x25519_public, 'x25519_public']]) {
      if (keys.has(hex(k))) throw fail('MANIFEST_DUPLICATE_ID', `${tf}.${kf}`, 'key appears twice');
      keys.add(hex(k));
    }
  });
}

/** Throw CRYPTO_BAD_SELECTION unless `selections` is a valid vote on m. */
export function checkSelections(m, selections) {
  const bad = (why) => new CryptoError('CRYPTO_BAD_SELECTION', why);
  if (!Array.isArray(selections) || selections.length !== m.contests.length) {
    throw bad(`need one selection list per contest (${m.contests.length})`);
  }
  m.contests.forEach((c, ci) => {
    const sel = selections[ci];
    if (!Array.isArray(sel) || sel.length !== c.options.length) {
      throw bad(`contest '${c.id}': need one value per option (${c.options.length})`);
    }
    if (sel.some((v) => !Number.isInteger(v))) throw bad(`contest '${c.id}': values must be integers`);
    if (c.kind === 'rating') {
      c.options.forEach((o, i) => {
        if (!RATING_LEVELS.includes(sel[i])) throw bad(`contest '${c.id}' item '${o.id}': rating ${sel[i]} is not one of 0, 10, ..., 100`);
      });
      return;
    }
    c.options.forEach((o, i) => {
      if (sel[i] !== 0 && sel[i] !== 1) throw bad(`contest '${c.id}' option '${o.id}': value ${sel[i]} is not 0 or 1`);
    });
    const k = sel.reduce((a, b) => a + b, 0);
    if (!(c.min_selections <= k && k <= c.max_selections)) {
      throw bad(`contest '${c.id}': ${k} options chosen, allowed ${c.min_selections}..${c.max_selections}`);
    }
  });
}
