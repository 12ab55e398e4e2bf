// Opens the voting page's receipt check (?receipt=CODE) at phone size and prints what the
// page says, as JSON {text, page_errors}: tests/registrar/test_paper_override.py.
import { chromium } from 'playwright-core';

const url = process.argv[2];
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const out = { page_errors: [] };
try {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => out.page_errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('.ok-box, .error-box', { timeout: 60_000 });
  out.text = await page.locator('main').innerText();
} catch (e) {
  out.failure = String(e);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
