// The dashboard's Clinics page in a real browser against a running service: add a clinic with the
// form, see it listed with its figures, walk its onboarding steps (doctor, backfill dry run), and
// see its first patient synced, with no restart; the page passes axe.
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

    // The next steps are offered at once: the doctor, setup, a backfill dry run, the backfill.
    const steps = page.locator('#view-tenants .onboarding');
    await steps.locator('button:has-text("Run doctor")').click();
    await steps.locator('.doctor-results').waitFor({ timeout: 30_000 });
    expect(await steps.locator('tr[data-check="spry.token"]').textContent()).toContain('ok');
    expect(await steps.textContent()).toContain(`spruce-sync setup -c config.yaml --tenant ${B.tenantId}`);
    await steps.locator('button:has-text("Backfill dry run")').click();
    await steps.locator('[data-step="dry-run"]:has-text("completed")').waitFor({ timeout: 30_000 });
    expect(describeViolations('clinics, onboarding', await axeViolations(page))).toEqual([]);

    // Each clinic's figures: backlog, dead letters, oldest waiting job, API budget, breakers.
    const row = page.locator(`#view-tenants tr[data-tenant="${B.tenantId}"]`);
    await row.locator('td:has-text("Spruce")').waitFor();
    expect(await row.textContent()).toContain('added here');
    expect(await page.locator('#view-tenants .view-head').textContent()).toMatch(/2 clinics · 0 need attention/);
    // Filtered on the server: one row left.
    await page.fill('#view-tenants input[name="search"]', 'clinic-b');
    await page.click('#view-tenants button:has-text("Filter")');
    // Polled from here: a string predicate is evaluated in the page, where the dashboard's CSP
    // (script-src 'self') refuses it whenever the first check comes before the new rows.
    await expect.poll(() => page.locator('#view-tenants table.figures tbody tr').count(), { timeout: 10_000 }).toBe(1);
    expect(await page.locator('#view-tenants table.figures tbody tr').getAttribute('data-tenant')).toBe(B.tenantId);

    const patient = registerPatient(w, B, 1);
    await stepUntil(w, () => synced(w, B, patient), "clinic B's first patient in B's Spruce");

    // The overview draws both clinics' cards, and nothing that is not meant as text.
    await page.click('#nav a[data-view="overview"]');
    await page.locator(`article.tenant[data-tenant="${B.tenantId}"]`).waitFor();
    for (const view of ['#view-overview', '#view-tenants']) expect(await page.locator(view).textContent()).not.toMatch(/\bnull\b|\[object /);
    expect(errors).toEqual([]);
  });
});
