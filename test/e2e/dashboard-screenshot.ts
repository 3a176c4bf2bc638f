// Takes docs/dashboard.png: runs the demo (sandbox + service, fake data only), signs in to the
// dashboard with headless chromium and photographs the overview. Not a test; run it by hand:
//   npx tsx test/e2e/dashboard-screenshot.ts [out.png]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from './dashboard-chromium.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = process.argv[2] ?? `${root}docs/dashboard.png`;
const port = 8097;
const token = 'demo-admin-token';

const demo = spawn(process.execPath, ['bin/spruce-sync.js', 'demo', '--port', String(port), '--spry-port', '0', '--spruce-port', '0'], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
});
try {
  await new Promise<void>((resolve, reject) => {
    let text = '';
    demo.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      process.stdout.write(chunk);
      if (text.includes('Running;')) resolve();
    });
    demo.on('exit', (code) => reject(new Error(`demo exited with ${code}`)));
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(`http://127.0.0.1:${port}/admin`);
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.locator('article.tenant').first().waitFor();
  await page.screenshot({ path: out, fullPage: true });
  await browser.close();
  console.log(`wrote ${out}`);
} finally {
  demo.kill('SIGTERM');
}
