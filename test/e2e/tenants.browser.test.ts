// The dashboard's Clinics page in a real browser against a running service: add a clinic with the
// form, see it listed, and see its first patient synced, with no restart; the page passes axe.
import { chromium, type Browser } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { axeViolations, describeViolations } from './dashboard-axe.ts';
import { CHROMIUM, CHROMIUM_ARGS, hasChromium } from './dashboard-chromium.ts';
import { ADMIN_TOKEN, B, registerPatient, startTenantsWorld, stepUntil, synced, type TenantsWorld } from './tenants-support.ts';

if (!hasChromium) console.log(`[clinics page browser test] SKIPPED: ${CHROMIUM} not found (apt-get install -y chromium)`);

let world: TenantsWorld | undefined;
let browser: Browser | undefined;
afterEach(async () => {
  await browser?.close();
  await world?.close();
  browser = undefined;
  world = undefined;
});

describe.skipIf(!hasChromium)('the Clinics page', () => {
  it('adds a clinic from the dashboard; its first patient syncs', { timeout: 90_000 }, async () => {
    world = await startTenantsWorld();
    const w = world;
    const [service] = w.instances;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));

    await page.goto(`${service!.url}/admin#tenants`);
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#view-tenants td:has-text("clinic-a")');
    expect(describeViolations('clinics', await axeViolations(page))).toEqual([]);

    const b = w.clinicB as unknown as { id: string; spry: Record<string, string | number | string[]>; spruce: Record<string, string | string[]> };
    const fill = (name: string, value: string | number | string[]) => page.fill(`#view-tenants [name="${name}"]`, String(Array.isArray(value) ? value[0] : value));
    await fill('id', b.id);
    for (const key of ['baseUrl', 'clientId', 'clientSecret', 'organisationId', 'webhookSecrets', 'chartUrl']) await fill(`spry.${key}`, b.spry[key]!);
    for (const key of ['baseUrl', 'accessId', 'secretKey', 'webhookSecrets']) await fill(`spruce.${key}`, b.spruce[key]!);
    await fill('advanced', JSON.stringify({ spry: { requestsPerSecond: 20 }, schedules: { catchUpOnStart: false, catchUpEveryMinutes: 0, reconcileEveryMinutes: 0 } }));
    await page.click('#view-tenants button:has-text("Add clinic")');
    await page.waitForSelector(`#view-tenants h2:has-text("${B.tenantId} added")`);
    await page.waitForSelector(`#view-tenants td:has-text("${B.tenantId}")`);
    // The secrets typed are gone from the page.
    expect(await page.content()).not.toContain(String(b.spruce.secretKey));

    const patient = registerPatient(w, B, 1);
    await stepUntil(w, () => synced(w, B, patient), "clinic B's first patient in B's Spruce");
    expect(errors).toEqual([]);
  });
});
