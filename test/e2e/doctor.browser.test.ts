// The doctor on the dashboard, in a real browser against the sandbox: the tenant card's button
// runs the checks through the admin API and shows one line per check; a paused Spruce endpoint
// shows as a failed line naming the assumption.
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_TENANT_ID } from '../../src/sandbox/environment.ts';
import { CHROMIUM, CHROMIUM_ARGS, hasChromium } from './dashboard-chromium.ts';
import { DOCTOR_ADMIN_TOKEN, ourSpruceEndpointId, spruceApi, startDoctorWorld } from './doctor-support.ts';
import type { World } from './support.ts';

if (!hasChromium) console.log(`[doctor browser test] SKIPPED: ${CHROMIUM} not found (apt-get install -y chromium)`);

describe.skipIf(!hasChromium)('doctor on the dashboard', () => {
  let world: World;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    world = await startDoctorWorld();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
  });
  afterAll(async () => {
    await browser?.close();
    await world?.close();
  });

  it("runs from the tenant's card and shows each check, then the paused endpoint that breaks one", async () => {
    await page.goto(`http://127.0.0.1:${world.config.server.port}/admin`);
    await page.fill('#token', DOCTOR_ADMIN_TOKEN);
    await page.click('#login-form button[type=submit]');
    const card = page.locator(`article.tenant[data-tenant="${SANDBOX_TENANT_ID}"]`);
    await card.waitFor();
    const panel = card.locator('.doctor');
    expect(await panel.textContent()).toContain('Doctor: not run yet');

    await panel.locator('button:has-text("Run doctor")').click();
    await card.locator('.doctor-results:has-text("all checks ok")').waitFor();
    const rows = card.locator('.doctor-table tr');
    expect(await rows.count()).toBeGreaterThanOrEqual(14);
    expect(await card.locator('.doctor-table tr:not(.doctor-ok)').count()).toBe(0);
    expect(await card.locator('tr[data-check="spruce.endpoint"]').textContent()).toMatch(/ok\s*spruce\.endpoint\s*endpoint wde_\w+ active at our URL/);

    const endpoint = await ourSpruceEndpointId(world);
    await spruceApi(world, 'POST', `/webhooks/endpoints/${endpoint}/paused?paused=true`);
    await card.locator('button:has-text("Run doctor")').click();
    await card.locator('.doctor-results:has-text("1 failed")').waitFor();
    const failed = card.locator('tr.doctor-fail');
    expect(await failed.count()).toBe(1);
    const text = await failed.textContent();
    expect(text).toContain('spruce.endpoint');
    expect(text).toContain(`endpoint ${endpoint} is paused`);
    expect(text).toContain('[setup.spruce-endpoint-active]');
    expect(text).toContain('→ resume it');
    expect(errors).toEqual([]);
  }, 30_000);
});
