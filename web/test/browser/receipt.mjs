// Opens the voting page's receipt check (?receipt=CODE) at phone size and prints what the
// page says, as JSON {text, page_errors, axe?}: tests/node/registrar/test_paper_override.py.
// With a second argument `axe`, also the axe-core violations of the receipt state.
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';

const url = process.argv[2];
const withAxe = process.argv[3] === 'axe';
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const out = { page_errors: [] };
try {
  // bypassCSP only lets the test inject axe-core (the page's CSP is checked by tests/web).
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, bypassCSP: withAxe });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => out.page_errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('.ok-box, .error-box', { timeout: 60_000 });
  out.text = await page.locator('main').innerText();
  if (withAxe) {
    await page.addScriptTag({ path: createRequire(import.meta.url).resolve('axe-core/axe.min.js') });
    out.axe = await page.evaluate(async () => {
      const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
    });
    out.lang = await page.evaluate(() => document.documentElement.lang);
  }
} catch (e) {
  out.failure = String(e);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
