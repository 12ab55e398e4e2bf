// Browser test driver (Playwright driving Debian's chromium), run by tests/web/test_browser.py.
//
// Reads a JSON config (argv[2]) naming a running localnet and its elections, votes as
// people would at phone size (390x844), and prints a JSON report on stdout: what was
// cast (for the tally check), receipts, the axe-core findings of every page state, and
// the layout checks. Screenshots of every state in both languages go to cfg.shots.
//
//   A (one-time code, Japanese, keyboard only): wrong code, empty ballot, choices, review,
//     "check my ballot" (spoil + decrypted content), fresh ballot, cast, receipt.
//   B (key file, English): wrong password, right password, cast by double click (must
//     cast once), re-vote, receipt.
//   C: a manifest whose picture does not match its hash: the page must stop.
//
// Every announced state (live regions, read from the accessibility tree) is checked in
// Japanese and English: inBoth() re-does the action on the same page after switching
// language; what cannot be re-done there is done once in each election's language.

import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
mkdirSync(cfg.shots, { recursive: true });

const report = { axe: [], shots: [], layout: [], a: {}, b: {}, c: {}, console_errors: [], page_errors: [] };
const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  // Playwright gives every launch a fresh temporary --user-data-dir of its own (it refuses
  // the flag in args), so no state carries over between runs.
});

async function newPage(locale) {
  // bypassCSP only lets the test inject axe-core; the page's own CSP is checked separately.
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale, bypassCSP: true });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => report.page_errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') report.console_errors.push(m.text()); });
  return page;
}

const screen = (page) => page.evaluate(() => window.__ballotchain.state().screen);

async function waitScreen(page, name, timeout = 60_000) {
  await page.waitForFunction((n) => window.__ballotchain && window.__ballotchain.state().screen === n, name, { timeout });
}

async function audit(page, state) {
  await page.addScriptTag({ path: AXE });
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help, targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  report.axe.push({ state, violations: res });
}

async function noHorizontalScroll(page, state) {
  const r = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
  report.layout.push({ state, ...r, ok: r.sw <= r.cw });
}

let shotNo = 0;
// Screenshot and audit the current state in both languages (the page re-renders from
// state, so switching language keeps the voter's place and choices).
async function capture(page, state) {
  shotNo += 1;
  const current = await page.evaluate(() => window.__ballotchain.state().lang);
  for (const lang of [current, current === 'ja' ? 'en' : 'ja']) {
    if (lang !== current) await page.click(`#lang-nav button[data-lang="${lang}"]`);
    const name = `${String(shotNo).padStart(2, '0')}-${state}-${lang}.png`;
    await page.screenshot({ path: `${cfg.shots}/${name}`, fullPage: true });
    report.shots.push(name);
    await audit(page, `${state}/${lang}`);
    await noHorizontalScroll(page, `${state}/${lang}`);
  }
  await page.click(`#lang-nav button[data-lang="${current}"]`);
}

// --- keyboard-only helpers -----------------------------------------------------------------

async function tabTo(page, selector, max = 80) {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${selector}`);
}

async function keyRadio(page, name, index) {
  await tabTo(page, `input[name="${name}"]`);
  if (index === 0) await page.keyboard.press('Space');
  for (let i = 0; i < index; i++) await page.keyboard.press('ArrowRight');
}

async function keyCheckbox(page, id) {
  await tabTo(page, `#${id}`);
  await page.keyboard.press('Space');
}

async function keyButton(page, selector) {
  await tabTo(page, selector);
  await page.keyboard.press('Enter');
}

async function keyChoose(page, sel) {
  // sel: [[0,1,0], [1,0,1], [70,100,30]]; park (single), facilities (multiple), pledges (rating)
  await keyRadio(page, 'c0', sel[0].indexOf(1));
  for (const [i, v] of sel[1].entries()) if (v) await keyCheckbox(page, `c1-o${i}`);
  for (const [i, v] of sel[2].entries()) await keyRadio(page, `c2-o${i}`, v / 10);
}

async function mouseChoose(page, sel) {
  await page.check(`#c0-o${sel[0].indexOf(1)}`);
  for (const [i, v] of sel[1].entries()) await (v ? page.check(`#c1-o${i}`) : page.uncheck(`#c1-o${i}`));
  for (const [i, v] of sel[2].entries()) await page.check(`#c2-o${i}-v${v}`);
}

const summaryText = (page) => page.locator('dl.summary').innerText();

// What a screen reader hears: the live region's node in the accessibility tree (Playwright's
// ARIA snapshot of the role=alert / role=status element), once it has been filled.
// With `want`, wait for the final announcement (a progress message may come first).
async function announced(page, role, want = '') {
  const id = role === 'alert' ? 'alert' : 'status';
  try {
    await page.waitForFunction(([i, w]) => { const t = document.getElementById(i).textContent.trim(); return t !== '' && t.includes(w); }, [id, want], { timeout: 20_000 });
  } catch {
    // reported as it is: the Python assertion names what was announced instead
  }
  return page.getByRole(role).ariaSnapshot();
}

// An announced state in both languages: `act(lang)` runs in the page's language, then again
// after switching to the other one with the page's own buttons (the same page: no new
// browser, no new load), and the page is switched back. The live regions are emptied before
// each run, so what `announced` reads is that run's announcement, not the previous one's.
async function inBoth(page, act) {
  const first = await page.evaluate(() => window.__ballotchain.state().lang);
  const out = {};
  for (const lang of [first, first === 'ja' ? 'en' : 'ja']) {
    if (lang !== first) await page.click(`#lang-nav button[data-lang="${lang}"]`);
    await page.evaluate(() => { for (const id of ['alert', 'status']) document.getElementById(id).textContent = ''; });
    out[lang] = await act(lang);
  }
  await page.click(`#lang-nav button[data-lang="${first}"]`);
  return out;
}

// What the rating contest says about its scale, in both languages: the hint (the contest's
// description), the row under the first item's levels, and the accessibility tree of that
// item (the 0 and 100 buttons are named with the ends).
const scaleSeen = (page) => inBoth(page, async () => ({
  hint: await page.locator('#hint-2').innerText(),
  ends: await page.locator('#contest-2 .scale-ends').first().innerText(),
  tree: await page.locator('#contest-2 fieldset.rating').first().ariaSnapshot(),
}));

const liveText = (page) => page.evaluate(() => ({ alert: document.getElementById('alert').textContent, status: document.getElementById('status').textContent }));

async function typeReceipt(page, text) {
  await page.fill('#receipt-code', text);
  await page.press('#receipt-code', 'Enter');
}

// --- A: one-time code, Japanese, keyboard only ----------------------------------------------------

async function electionA() {
  const page = await newPage('ja-JP');
  await page.goto(`${cfg.validator}/vote/${cfg.a}`);
  await waitScreen(page, 'start');
  report.a.lang = await page.evaluate(() => document.documentElement.lang);
  await capture(page, 'start');

  // a mistyped code: one symbol changed, caught by the check character
  const good = cfg.codes[0];
  const typo = (good[0] === 'A' ? 'B' : 'A') + good.slice(1);
  report.a.typo = await inBoth(page, async () => {
    await tabTo(page, '#code');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(typo);
    await page.keyboard.press('Enter');
    const alert = await announced(page, 'alert');
    return { alert, error: await page.locator('#start-error').innerText(), focus: await page.evaluate(() => document.activeElement.id) };
  });
  await capture(page, 'code-error');

  await tabTo(page, '#code');
  await page.keyboard.press('Control+A');
  await page.keyboard.type(good.toLowerCase().replaceAll('-', ' ')); // as a person might type it
  await page.keyboard.press('Enter');
  await waitScreen(page, 'ballot');
  report.a.images = await page.locator('img.option-image').count();
  report.a.image_alts = await page.locator('img.option-image').evaluateAll((els) => els.map((e) => e.getAttribute('alt')));
  report.a.ruby = await page.locator('#contest-0 ruby').first().evaluate((r) => ({ base: r.firstChild.textContent, rt: r.querySelector('rt').textContent }));
  report.a.scale = await scaleSeen(page); // this election's manifest names the ends
  await capture(page, 'ballot');

  // review with nothing chosen: every contest says what is missing, every unrated item named
  report.a.empty = await inBoth(page, async () => {
    await keyButton(page, 'button[type=submit].primary');
    const alert = await announced(page, 'alert');
    return { alert, errors: await page.locator('.field-error').count(), rating: await page.locator('#err-2').innerText() };
  });
  await capture(page, 'ballot-errors');

  const sel = [[0, 1, 0], [1, 0, 1], [70, 100, 30]];
  await keyChoose(page, sel);
  await keyButton(page, 'button[type=submit].primary');
  await waitScreen(page, 'review');
  report.a.summary = await summaryText(page);
  await capture(page, 'review');

  // Benaloh: check my ballot (spoil it, see what it contained)
  await keyButton(page, '#spoil');
  await waitScreen(page, 'audit');
  report.a.audit = await summaryText(page);
  report.a.audit_text = await page.locator('main').innerText();
  report.a.not_voted = await page.locator('#not-voted').innerText();
  report.a.audit_status = await announced(page, 'status', 'まだ');
  report.a.spoil_short = /([0-9a-f]{4} ){3}[0-9a-f]{4}/.exec(await page.locator('#audit-posted').innerText())[0];
  await capture(page, 'audit');

  await keyButton(page, '#fresh');
  await waitScreen(page, 'ballot');
  await keyButton(page, 'button[type=submit].primary');
  await waitScreen(page, 'review');
  await keyButton(page, '#cast');
  await waitScreen(page, 'castDone');
  report.a.tracking = (await page.locator('.tracking-code code').innerText()).replace(/\s+/g, '');
  report.a.cast_status = await announced(page, 'status', '記録');
  report.a.finals = [sel];
  await capture(page, 'cast-done');

  await keyButton(page, '#verify');
  await page.waitForSelector('.ok-box, .error-box', { timeout: 60_000 });
  report.a.receipt = await page.locator('main').innerText();
  report.a.receipt_status = await announced(page, 'status', '確認できました');
  report.a.short = await page.locator('.tracking-short code').innerText();
  await capture(page, 'receipt');

  // keep the code: copy (read back from the clipboard), save as a file, QR code
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: cfg.validator });
  report.a.copy_status = await inBoth(page, async () => {
    await page.click('#copy-code');
    return announced(page, 'status');
  });
  report.a.copied = await page.evaluate(() => navigator.clipboard.readText());
  const saved = await Promise.all([page.waitForEvent('download'), page.click('#save-code')]);
  report.a.saved_name = saved[0].suggestedFilename();
  report.a.saved_text = readFileSync(await saved[0].path(), 'utf8');
  await page.click('#show-qr');
  report.a.qr = await page.locator('#qr-box img').evaluate((img) => ({ alt: img.alt, w: img.naturalWidth, src: img.src.slice(0, 22) }));
  await capture(page, 'receipt-qr');

  // the "check my ballot" ballot, by the short form the audit screen showed: not counted
  const verified = { ja: '確認できました', en: 'Verified' };
  report.a.spoiled = await inBoth(page, async (lang) => {
    await typeReceipt(page, report.a.spoil_short);
    const status = await announced(page, 'status', verified[lang]);
    return { status, text: await page.locator('#receipt-result').innerText() };
  });
  await capture(page, 'receipt-spoiled');

  // the voting code typed into the tracking-code box: one plain sentence, announced
  report.a.bad_format = await inBoth(page, async () => {
    await typeReceipt(page, good);
    const alert = await announced(page, 'alert');
    return { alert, text: await page.locator('#receipt-error').innerText(), invalid: await page.getAttribute('#receipt-code', 'aria-invalid') };
  });
  await capture(page, 'receipt-bad-format');

  // a mistyped tracking code: "not found: check the code you typed", nothing about a lost vote
  const wrong = (report.a.tracking[0] === '0' ? '1' : '0') + report.a.tracking.slice(1);
  const notFound = { ja: '見つかりません', en: 'Not found' };
  report.a.not_found = await inBoth(page, async (lang) => {
    await typeReceipt(page, wrong);
    const alert = await announced(page, 'alert', notFound[lang]);
    return { alert, text: await page.locator('main').innerText() };
  });
  await capture(page, 'receipt-not-found');
  // the next screen starts silent: no stale alert
  await page.click('#back');
  await waitScreen(page, 'start');
  report.a.after_back = await liveText(page);

  // the same code again: refused on the start screen, before any ballot is filled in
  await page.goto(`${cfg.validator}/vote/${cfg.a}`);
  await waitScreen(page, 'start');
  report.a.reuse = await inBoth(page, async () => {
    await page.fill('#code', good);
    await page.press('#code', 'Enter');
    const alert = await announced(page, 'alert');
    return { alert, error: await page.locator('#start-error').innerText(), screen: await screen(page) };
  });
  await capture(page, 'code-used');

  // the public ballot box, on the observer and on the validator: the same list; the voter
  // finds their code by its first characters
  report.a.box = {};
  for (const [name, base] of [['observer', cfg.observer], ['validator', cfg.validator]]) {
    await page.goto(`${base}/vote/${cfg.a}/ballots`);
    await waitScreen(page, 'ballots');
    await page.waitForSelector('#box-counts');
    report.a.box[name] = await page.locator('#box-counts').innerText();
  }
  report.a.box_status = await announced(page, 'status');
  await capture(page, 'ballot-box');
  report.a.box_found = await inBoth(page, async () => {
    await page.fill('#box-q', report.a.tracking.slice(0, 6));
    await page.press('#box-q', 'Enter');
    const status = await announced(page, 'status');
    await page.waitForFunction((c) => document.querySelectorAll('#box-table tbody tr').length === 1 && document.querySelector('#box-table').innerText.includes(c), report.a.short);
    return { status, rows: await page.locator('#box-table tbody').innerText() };
  });
  await page.fill('#box-q', report.a.spoil_short.slice(0, 9));
  await page.press('#box-q', 'Enter');
  await page.waitForFunction((c) => document.querySelector('#box-table') && document.querySelector('#box-table').innerText.includes(c), report.a.spoil_short);
  report.a.box_spoiled = await page.locator('#box-table tbody').innerText();
  report.a.box_bad = await inBoth(page, async () => {
    await page.fill('#box-q', 'xyz');
    await page.press('#box-q', 'Enter');
    return announced(page, 'alert');
  });
  await capture(page, 'ballot-box-bad-search');
  await page.context().close();

  // the second code: the connection drops after the node took the ballot; the page gives
  // the tracking code and "check now" proves the ballot was recorded
  const p2 = await newPage('ja-JP');
  await p2.goto(`${cfg.validator}/vote/${cfg.a}`);
  await waitScreen(p2, 'start');
  await p2.fill('#code', cfg.codes[1]);
  await p2.press('#code', 'Enter');
  await waitScreen(p2, 'ballot');
  const sel2 = [[0, 0, 1], [0, 1, 0], [40, 40, 90]];
  await mouseChoose(p2, sel2);
  await p2.click('button[type=submit].primary');
  await waitScreen(p2, 'review');
  // a refusal at cast time (as if the code had been used meanwhile): the page offers another code
  await p2.route('**/v1/txs?wait=commit', (route) => route.fulfill({ status: 409, json: { error: 'TX_CODE_USED', message: 'this voting code was already used' } }));
  report.a.cast_error = await inBoth(p2, async () => {
    await p2.click('#cast');
    await p2.waitForSelector('#cast-error', { timeout: 60_000 });
    const alert = await announced(p2, 'alert');
    return { alert, start_again: await p2.locator('#start-again').innerText() };
  });
  await capture(p2, 'cast-refused');
  await p2.click('#start-again');
  await waitScreen(p2, 'start');
  await p2.unroute('**/v1/txs?wait=commit');
  await p2.fill('#code', cfg.codes[1]);
  await p2.press('#code', 'Enter');
  await waitScreen(p2, 'ballot');
  await p2.click('button[type=submit].primary'); // the choices were kept
  await waitScreen(p2, 'review');
  await p2.route('**/v1/txs?wait=commit', async (route) => {
    await route.fetch(); // the node receives and commits it...
    await route.abort('connectionreset'); // ...but the answer never arrives
  });
  await p2.click('#cast');
  await waitScreen(p2, 'castUnknown');
  report.a.lost_answer_tracking = (await p2.locator('.tracking-code code').innerText()).replace(/\s+/g, '');
  await capture(p2, 'cast-unknown');
  await p2.click('#check-now');
  await p2.waitForSelector('.ok-box, .error-box', { timeout: 60_000 });
  report.a.lost_answer_receipt = await p2.locator('main').innerText();
  report.a.finals.push(sel2);
  await p2.context().close();
}

// --- B: key file, English, double click, re-vote ---------------------------------------------------

async function electionB() {
  const page = await newPage('en-US');
  await page.goto(`${cfg.validator}/vote/${cfg.b}`);
  await waitScreen(page, 'start');
  report.b.lang = await page.evaluate(() => document.documentElement.lang);
  await capture(page, 'key-start');

  await page.setInputFiles('#keyfile', cfg.keys[0]);
  report.b.wrong_password = await inBoth(page, async () => {
    await page.fill('#keypw', 'not the password');
    await page.click('button[type=submit].primary');
    const alert = await announced(page, 'alert', 'KEY_WRONG_PASSWORD');
    return {
      alert,
      error: await page.locator('#start-error').innerText(),
      after: await page.evaluate(() => ({ files: document.getElementById('keyfile').files.length, focus: document.activeElement.id })),
    };
  });
  report.b.file_button_h = await page.locator('#keyfile').evaluate((e) => e.getBoundingClientRect().height);
  await capture(page, 'key-wrong-password');

  await page.fill('#keypw', cfg.password); // the file is still chosen: only the password again
  await page.click('button[type=submit].primary');
  await waitScreen(page, 'ballot', 60_000);
  report.b.scale = await scaleSeen(page); // this manifest says nothing: the defaults
  const first = [[1, 0, 0], [0, 1, 0], [0, 50, 100]];
  await mouseChoose(page, first);
  await page.click('button[type=submit].primary');
  await waitScreen(page, 'review');
  // "check my ballot" in English (the Japanese one is election A's): not voted yet, said so
  await page.click('#spoil');
  await waitScreen(page, 'audit');
  report.b.audit_status = await announced(page, 'status', 'not voted');
  await page.click('#fresh');
  await waitScreen(page, 'ballot');
  await page.click('button[type=submit].primary'); // the choices are kept
  await waitScreen(page, 'review');
  // read the summary aloud: the page fetches every clip of the election (24 here: with the
  // rating's scale), not only the chosen ones, so the node cannot tell the vote from the requests
  const clips = [];
  page.on('response', (r) => { if (r.url().includes('/vote/speech/')) clips.push(r.status()); });
  await page.click('button.speak');
  await page.waitForFunction(() => true);
  for (let i = 0; i < 600 && clips.length < 24; i++) await page.waitForTimeout(100);
  report.b.speech = { clips: clips.length, ok: clips.filter((x) => x === 200).length };
  await page.dblclick('#cast'); // a double click must cast once
  await waitScreen(page, 'castDone');
  report.b.first_tracking = (await page.locator('.tracking-code code').innerText()).replace(/\s+/g, '');
  report.b.cast_status = await announced(page, 'status', 'recorded');
  // the short form read aloud, letter by letter: all 16 digit clips are fetched
  const digitClips = [];
  page.on('response', (r) => { if (/\/vote\/speech\/.*\/h[0-9a-f]\.wav$/.test(r.url())) digitClips.push(r.status()); });
  await page.click('#read-code');
  for (let i = 0; i < 300 && digitClips.length < 16; i++) await page.waitForTimeout(100);
  report.b.digit_clips = digitClips.filter((x) => x === 200).length;

  await page.click('#revote');
  await waitScreen(page, 'ballot');
  const second = [[0, 0, 1], [1, 1, 0], [100, 90, 10]];
  await mouseChoose(page, second);
  await page.click('button[type=submit].primary');
  await waitScreen(page, 'review');
  await page.click('#cast');
  await waitScreen(page, 'castDone');
  const revoteTracking = (await page.locator('.tracking-code code').innerText()).replace(/\s+/g, '');
  report.b.revote = { en: { note: await page.locator('#replaces-note').innerText(), status: await announced(page, 'status', 'recorded') } };
  await capture(page, 'revote-done');
  // a re-vote again, in Japanese: the one just cast is replaced, and that is said in Japanese
  await page.click('#lang-nav button[data-lang="ja"]');
  await page.click('#revote');
  await waitScreen(page, 'ballot');
  await page.click('button[type=submit].primary');
  await waitScreen(page, 'review');
  await page.click('#cast');
  await waitScreen(page, 'castDone');
  report.b.tracking = (await page.locator('.tracking-code code').innerText()).replace(/\s+/g, '');
  report.b.revote.ja = { note: await page.locator('#replaces-note').innerText(), status: await announced(page, 'status', '記録') };
  report.b.revote_replaced = revoteTracking;
  await page.click('#lang-nav button[data-lang="en"]');
  report.b.final = second;

  await page.click('#verify');
  await page.waitForSelector('.ok-box, .error-box', { timeout: 60_000 });
  report.b.receipt = await page.locator('main').innerText();
  report.b.receipt_status = await announced(page, 'status', 'Verified');
  // the first ballot's receipt: replaced by the re-vote, not counted; said in both languages
  report.b.replaced = await inBoth(page, async (lang) => {
    await typeReceipt(page, report.b.first_tracking);
    const status = await announced(page, 'status', { ja: '確認できました', en: 'Verified' }[lang]);
    return { status, text: await page.locator('#ballot-status').innerText() };
  });
  await capture(page, 'receipt-replaced');

  // 360 px wide and 200 % zoom (a 390 px phone at 200 % is 195 CSS px)
  await page.click('#back');
  await waitScreen(page, 'ballot');
  for (const width of [360, 195]) {
    await page.setViewportSize({ width, height: 800 });
    await noHorizontalScroll(page, `ballot@${width}px`);
  }
  await page.screenshot({ path: `${cfg.shots}/zoom-200-ballot-en.png`, fullPage: false });
  report.shots.push('zoom-200-ballot-en.png');
  await page.context().close();
}

// --- C: hostile manifest (picture does not match its hash) -----------------------------------------

async function electionC() {
  const page = await newPage('ja-JP');
  await page.goto(`${cfg.validator}/vote/${cfg.c}`);
  await waitScreen(page, 'fatal');
  report.c.text = await page.locator('main').innerText();
  report.c.alert = { ja: await announced(page, 'alert') };
  await capture(page, 'image-mismatch');
  // the page stops as it loads, so the English announcement needs an English load
  await page.goto(`${cfg.validator}/vote/${cfg.c}?lang=en`);
  await waitScreen(page, 'fatal');
  report.c.alert.en = await announced(page, 'alert');
  await page.context().close();
}

// The page's own CSP must let it run (no bypass here): the wasm crypto loads and the start screen shows.
async function withRealCsp() {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US' });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${cfg.observer}/vote/${cfg.b}`);
  await waitScreen(page, 'start');
  report.csp = { screen: await screen(page), errors };
  await ctx.close();
}

// Hostile nodes: each tampering must stop the page or fail the check, with its code.
async function hostile() {
  const realB = await (await fetch(`${cfg.validator}/v1/elections/${cfg.b}`)).json();
  const tamper = async (page, url, edit) => {
    await page.route(url, async (route) => {
      const resp = await route.fetch();
      const body = await resp.json();
      edit(body);
      await route.fulfill({ response: resp, json: body });
    });
  };
  // the node swaps in another election's key: the observer disagrees
  let page = await newPage('en-US');
  await tamper(page, `${cfg.validator}/v1/elections/${cfg.a}`, (b) => { b.status_bytes = realB.status_bytes; });
  await page.goto(`${cfg.validator}/vote/${cfg.a}`);
  await waitScreen(page, 'fatal');
  report.hostile = { key_swap: await page.locator('main').innerText() };
  await capture(page, 'nodes-disagree');
  await page.context().close();
  // the node serves another manifest under this election id
  page = await newPage('en-US');
  await tamper(page, `${cfg.validator}/v1/elections/${cfg.a}`, (b) => { b.manifest_bytes = realB.manifest_bytes; });
  await page.goto(`${cfg.validator}/vote/${cfg.a}`);
  await waitScreen(page, 'fatal');
  report.hostile.manifest_swap = await page.locator('main').innerText();
  await page.context().close();
  // the address pins another chain than the node serves
  page = await newPage('en-US');
  await page.goto(`${cfg.validator}/vote/${cfg.a}?chain=${'00'.repeat(32)}`);
  await waitScreen(page, 'fatal');
  report.hostile.wrong_chain = await page.locator('main').innerText();
  await page.context().close();
  // the observer forges a receipt (one signature byte changed)
  page = await newPage('en-US');
  await tamper(page, `${cfg.observer}/v1/receipts/*`, (b) => {
    const c = b.certificate_bytes;
    b.certificate_bytes = c.slice(0, -2) + (c.slice(-2) === '00' ? '01' : '00');
  });
  await page.goto(`${cfg.validator}/vote/${cfg.b}?receipt=${report.b.tracking}`);
  await page.waitForSelector('.ok-box, .error-box', { timeout: 60_000 });
  report.hostile.forged_receipt = await page.locator('main').innerText();
  await capture(page, 'forged-receipt');
  await page.context().close();
  // the observer has not followed the block yet (it answers 404 for the receipt): the page
  // must ask the validator next, not report the ballot missing or still pending
  page = await newPage('en-US');
  await page.route(`${cfg.observer}/v1/receipts/*`, (route) => route.fulfill({
    status: 404, json: { error: 'API_NOT_FOUND', message: 'no transaction with this hash' } }));
  await page.goto(`${cfg.validator}/vote/${cfg.b}?receipt=${report.b.tracking}`);
  await page.waitForSelector('#receipt-result', { timeout: 60_000 });
  report.hostile.lagging_observer = await page.locator('main').innerText();
  await page.context().close();
}

try {
  await withRealCsp();
  await electionA();
  await electionB();
  await electionC();
  await hostile();
} catch (e) {
  report.failure = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));
