// Browser test driver for registering and voting from a phone with the city login
// (tests/node/registrar/test_browser_login.py). Debian's chromium through playwright-core at
// phone size (390x844). Reads a JSON config (argv[2]); prints a JSON report on stdout.
//
//   ja: a voter makes a key on the phone (a too-short password first), downloads it,
//       signs in at the city's OpenID Connect provider, comes back and finishes with the
//       key's password (a wrong one first: the key signs the finish), is registered
//       (checked on chain by the page), votes, verifies the receipt, and on coming back
//       needs only the password.
//   en: a second voter does the same in English.
//   en: the first voter's login again, from another phone: refused with its code (and,
//       first, a registrar answer naming another identity provider than the manifest:
//       refused by the page with WEB_PROVIDER_MISMATCH, the browser stays on the page).
// axe-core audits each new state in the voter's language: sign-in start, key sealed,
// password re-entry after the sign-in, registration pending (the finish request held) and
// committed, password re-entry on return, the refusal.

import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
mkdirSync(cfg.shots, { recursive: true });
const report = { voters: [], page_errors: [], console_errors: [], shots: [], layout: [], axe: [], auth_requests: [] };
const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function newPage(locale) {
  // bypassCSP only lets the test inject axe-core (the page's CSP is checked by tests/web).
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale, acceptDownloads: true, bypassCSP: true });
  const page = await ctx.newPage();
  page.on('request', (r) => { if (r.url().startsWith(`${cfg.issuer}/auth?`)) report.auth_requests.push(r.url()); });
  page.on('pageerror', (e) => report.page_errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') report.console_errors.push(m.text()); });
  return page;
}

const waitScreen = (page, name, timeout = 60_000) =>
  page.waitForFunction((n) => window.__ballotchain && window.__ballotchain.state().screen === n, name, { timeout });

async function shot(page, name) {
  // the third phone repeats the first screens: only its refusal is kept
  if (!name.startsWith('voter3-') || name.includes('refused')) {
    await page.screenshot({ path: `${cfg.shots}/${name}.png`, fullPage: true });
  }
  report.shots.push(name);
  const r = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
  report.layout.push({ state: name, ok: r.sw <= r.cw });
}

async function audit(page, state) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.addScriptTag({ path: AXE });
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  report.axe.push({ state, lang: await page.evaluate(() => document.documentElement.lang), violations: res });
}

const pageUrl = (lang) => `${cfg.validator}/vote/${cfg.eid}?lang=${lang}&registrar=${encodeURIComponent(cfg.registrar)}`;

// The city's sign-in (oidc-provider's interaction pages): login, then consent.
async function cityLogin(page, login) {
  await page.waitForSelector('input[name="login"]', { timeout: 30_000 });
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'city-password');
  await page.click('button[type=submit]');
  await page.waitForURL((u) => u.href.startsWith(cfg.validator) || /interaction/.test(u.href), { timeout: 30_000 });
  if (!page.url().startsWith(cfg.validator)) {
    await page.click('button[type=submit][autofocus]'); // consent: "Continue"
  }
  await page.waitForURL((u) => u.href.startsWith(cfg.validator), { timeout: 60_000 });
  await waitScreen(page, 'start');
}

async function register(page, lang, login, tag) {
  const v = { lang, login };
  await page.goto(pageUrl(lang));
  await waitScreen(page, 'start');
  v.page_lang = await page.evaluate(() => document.documentElement.lang);
  v.start_text = await page.locator('main').innerText();
  await shot(page, `${tag}-1-start-${lang}`);
  if (tag !== 'voter3') await audit(page, 'start');
  await page.fill('#new-pw', 'short');
  await page.fill('#new-pw2', 'short');
  await page.click('#make-key');
  await page.waitForSelector('#register-error');
  v.short_password = await page.locator('#register-error').innerText();
  await page.fill('#new-pw', cfg.password);
  await page.fill('#new-pw2', cfg.password);
  await page.click('#make-key');
  await page.waitForSelector('#download-key', { timeout: 60_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-key')]);
  v.key_file = `${cfg.work}/${tag}.key`;
  await download.saveAs(v.key_file);
  v.stored_key = await page.evaluate((eid) => localStorage.getItem(`ballotchain.key.${eid}`), cfg.eid);
  await shot(page, `${tag}-2-key-made-${lang}`);
  if (tag !== 'voter3') await audit(page, 'key-sealed');
  if (tag === 'voter3') {
    // a registrar (or someone in its place) answering for another provider than the manifest's
    await page.route(`${cfg.registrar}/v1/login/start`, async (route) => {
      const resp = await route.fetch();
      const doc = await resp.json();
      await route.fulfill({ response: resp, json: { ...doc, issuer: 'https://evil.example', authorization_url: 'https://evil.example/auth' } });
    });
    await page.click('#signin');
    await page.waitForSelector('#register-error', { timeout: 60_000 });
    v.provider_refusal = await page.locator('#register-error').innerText();
    v.url_after_refusal = page.url();
    await page.unroute(`${cfg.registrar}/v1/login/start`);
  }
  await page.click('#signin');
  await cityLogin(page, login);
  await page.waitForSelector('#finish-pw, #register-error', { timeout: 60_000 });
  if (await page.locator('#finish-pw').count()) {
    v.finish_text = await page.locator('main').innerText();
    await shot(page, `${tag}-3-finish-${lang}`);
    await audit(page, 'finish');
    await page.fill('#finish-pw', 'not the password');
    await page.click('#finish');
    await page.waitForSelector('#register-error', { timeout: 60_000 });
    v.wrong_password = await page.locator('#register-error').innerText();
    // hold the finish request to audit the page while the registration is pending
    let release;
    const held = new Promise((r) => { release = r; });
    await page.route(`${cfg.registrar}/v1/login/finish`, async (route) => { await held; await route.continue(); });
    await page.fill('#finish-pw', cfg.password);
    await page.click('#finish');
    await page.waitForFunction(() => window.__ballotchain.state().register.busy === true, null, { timeout: 30_000 });
    v.pending_text = await page.locator('main').innerText();
    await audit(page, 'registration-pending');
    release();
    await page.waitForSelector('#registered', { timeout: 60_000 });
    await page.unroute(`${cfg.registrar}/v1/login/finish`);
  }
  return v;
}

async function vote(page, v, sel, tag) {
  v.registered_text = await page.locator('#registered').innerText();
  await shot(page, `${tag}-4-registered-${v.lang}`);
  await audit(page, 'registered');
  await page.click('#to-ballot'); // the key was opened to finish: no second password
  await waitScreen(page, 'ballot');
  await page.check(`#c0-o${sel[0].indexOf(1)}`);
  for (const [i, x] of sel[1].entries()) if (x) await page.check(`#c1-o${i}`);
  for (const [i, x] of sel[2].entries()) await page.check(`#c2-o${i}-v${x}`);
  await page.click('button[type=submit].primary');
  await waitScreen(page, 'review');
  await page.click('#cast');
  await waitScreen(page, 'castDone');
  v.tracking = (await page.locator('.tracking-code code').innerText()).replace(/\s+/g, '');
  await page.click('#verify');
  await page.waitForSelector('.ok-box, .error-box', { timeout: 60_000 });
  v.receipt = await page.locator('main').innerText();
  await shot(page, `${tag}-5-receipt-${v.lang}`);
  v.selections = sel;
  // back on the same phone later: only the password is needed
  await page.goto(pageUrl(v.lang));
  await waitScreen(page, 'start');
  await page.waitForSelector('#unlock-pw');
  await audit(page, 'unlock-on-return');
  v.returning = { make_form: await page.locator('#new-pw').count(), unlock_form: await page.locator('#unlock-pw').count() };
  await page.fill('#unlock-pw', cfg.password);
  await page.click('#to-ballot');
  await waitScreen(page, 'ballot');
  v.returning.ballot = true;
}

try {
  const p1 = await newPage('ja-JP');
  const v1 = await register(p1, 'ja', cfg.logins[0], 'voter1');
  await vote(p1, v1, [[0, 1, 0], [1, 0, 1], [70, 100, 30]], 'voter1');
  report.voters.push(v1);
  await p1.context().close();

  const p2 = await newPage('en-US');
  const v2 = await register(p2, 'en', cfg.logins[1], 'voter2');
  await vote(p2, v2, [[1, 0, 0], [0, 1, 0], [40, 40, 90]], 'voter2');
  report.voters.push(v2);
  await p2.context().close();

  // the first voter's login again, from another phone (fresh key): refused with its code
  const p3 = await newPage('en-US');
  const v3 = await register(p3, 'en', cfg.logins[0], 'voter3');
  v3.refusal = await p3.locator('#register-error').innerText();
  v3.registered_count = await p3.locator('#registered').count();
  await shot(p3, 'voter3-3-refused-en');
  await audit(p3, 'refused');
  report.voters.push(v3);
  await p3.context().close();
} catch (e) {
  report.failure = String(e && e.stack ? e.stack : e);
  log(report.failure);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));
