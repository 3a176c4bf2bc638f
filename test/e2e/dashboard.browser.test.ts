// The dashboard in a real browser (Debian's chromium, headless, via playwright-core) against the
// real app and workers: sign in, find a patient, replay a dead letter, see it succeed.
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startAdminHarness, type AdminHarness } from './admin-fixture.ts';
import { axeViolations, describeViolations } from './dashboard-axe.ts';
import { CHROMIUM, CHROMIUM_ARGS, hasChromium } from './dashboard-chromium.ts';

if (!hasChromium) console.log(`[dashboard browser test] SKIPPED: ${CHROMIUM} not found (apt-get install -y chromium)`);

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(!hasChromium)('dashboard in a real browser', () => {
  let h: AdminHarness;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  const backfills: string[] = [];

  beforeAll(async () => {
    h = await startAdminHarness({
      startPool: true,
      // A backfill that completes at once: the card must show what the service records.
      adminActions: {
        backfill: async (tenantId) => {
          backfills.push(tenantId);
          await h.store.setState(tenantId, 'backfill.last', JSON.stringify({ status: 'completed', total: 7, done: 7 }));
          return { operation: 'backfill' };
        },
      },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      // The browser reports the refusals the test provokes (a wrong token, an unavailable operation).
      if (message.type() === 'error' && !/status of (401|501)/.test(message.text())) errors.push(message.text());
    });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('signs in, finds a patient, replays a dead letter and sees it succeed', async () => {
    // Patient 42's sync fails for good; patient 7's works.
    h.failing.add('spry-patient:74:42');
    expect((await h.postSpry('acme-pt', 42, 'evt-42')).status).toBe(200);
    expect((await h.postSpry('acme-pt', 7, 'evt-7')).status).toBe(200);
    expect((await h.postSpruce('acme-pt', 'entity_7', 'evt-c7')).status).toBe(200);
    await until('the dead letter', async () => (await h.store.listDeadJobs({ limit: 10 })).length === 1);

    // A wrong token is refused; the right one opens the overview.
    await page.goto(`${h.url}/admin`);
    await page.fill('#token', 'not-the-token-at-all');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#login-error:has-text("not accepted")');
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#login-form button[type=submit]');
    const card = page.locator('article.tenant[data-tenant="acme-pt"]');
    await card.waitFor();
    expect(await card.textContent()).toContain('dead letters');
    expect(await card.locator('svg').count()).toBe(2);

    // Start a backfill from the card; its outcome shows there.
    expect(await card.textContent()).toContain('Backfill: never');
    await card.locator('button:has-text("Start backfill")').click();
    await card.locator('.runs:has-text("status completed")').waitFor();
    expect(backfills).toEqual(['acme-pt']);
    // Reconcile is not available in this harness: the answer's message is shown, nothing breaks.
    await card.locator('button:has-text("Reconcile and fix")').click();
    await page.waitForSelector('#flash:has-text("not available")');

    // Find the patient: their timeline shows the event and its dead attempt.
    await page.click('#nav a[data-view="patient"]');
    await page.selectOption('#view-patient select[name=tenantId]', 'acme-pt');
    await page.fill('#view-patient input[name=patientId]', '42');
    await page.click('#view-patient button[type=submit]');
    await page.waitForSelector('#timeline-patient:has-text("42")');
    const timeline = await page.locator('#view-patient table.timeline').textContent();
    expect(timeline).toContain('patient.updated');
    expect(timeline).toContain('SPRUCE_REJECTED');

    // Replay it from the dead letters, now that the cause is fixed, and watch it go through.
    h.failing.clear();
    await page.click('#nav a[data-view="dead-letters"]');
    const row = page.locator('#view-dead-letters tr[data-job-key="spry-patient:74:42"]');
    await row.waitFor();
    await row.locator('button.replay').click();
    await row.locator('.replay-state:has-text("processed")').waitFor({ timeout: 15_000 });
    expect(h.runs.filter((r) => r.key === 'spry-patient:74:42').map((r) => r.ok)).toEqual([false, true]);

    // The event log agrees, and the token stayed in this tab's session storage only.
    await page.click('#nav a[data-view="events"]');
    await page.fill('#view-events input[name=patientId]', '42');
    await page.click('#view-events button[type=submit]');
    await page.waitForSelector('#view-events tbody tr[data-event-id] .badge:has-text("processed")');
    expect(await page.evaluate('Object.keys(sessionStorage)')).toEqual(['spruce-sync.admin-token']);
    expect(await page.evaluate('Object.keys(localStorage)')).toEqual([]);
    expect(errors).toEqual([]);
  });
  it('passes axe-core (WCAG 2 A and AA) on every page, and the audit trail reads as text', async () => {
    // Something on every page: a dead letter, events of both sources, audit entries with details.
    h.failing.add('spry-patient:74:43');
    expect((await h.postSpry('acme-pt', 43, 'evt-43')).status).toBe(200);
    await until('the dead letter', async () => (await h.store.listDeadJobs({ limit: 10 })).some((j) => j.key === 'spry-patient:74:43'));
    const at = Date.now();
    await h.store.appendAudit({ at, tenantId: 'acme-pt', system: 'spruce', recordType: 'contact', recordId: 'entity_7', action: 'update', eventId: 1, detail: { fields: ['phoneNumbers', 'emailAddresses', 'familyName', 'field:Address', 'field:Next Appointment', 'field:Active Case'], cause: 'spry_edit' } });
    await h.store.appendAudit({ at, tenantId: 'acme-pt', system: 'spry', recordType: 'patient', recordId: '7', action: 'read', eventId: 1 });

    const problems: string[] = [];
    await page.goto(`${h.url}/admin`);
    await page.evaluate('sessionStorage.clear()');
    await page.reload();
    await page.waitForSelector('#login-form');
    problems.push(...describeViolations('sign-in', await axeViolations(page)));
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.locator('article.tenant[data-tenant="acme-pt"]').waitFor();
    problems.push(...describeViolations('overview', await axeViolations(page)));

    await page.click('#nav a[data-view="events"]');
    await page.click('#view-events button[type=submit]');
    await page.locator('#view-events tbody tr[data-event-id]').first().click();
    problems.push(...describeViolations('events', await axeViolations(page)));

    await page.click('#nav a[data-view="dead-letters"]');
    await page.locator('#view-dead-letters tr[data-job-key="spry-patient:74:43"]').waitFor();
    problems.push(...describeViolations('dead letters', await axeViolations(page)));

    await page.click('#nav a[data-view="patient"]');
    await page.selectOption('#view-patient select[name=tenantId]', 'acme-pt');
    await page.fill('#view-patient input[name=patientId]', '43');
    await page.click('#view-patient button[type=submit]');
    await page.waitForSelector('#timeline-patient:has-text("43")');
    problems.push(...describeViolations('patient', await axeViolations(page)));

    await page.click('#nav a[data-view="audit"]');
    const entry = page.locator('#view-audit tbody tr', { hasText: 'entity_7' });
    await entry.waitFor();
    problems.push(...describeViolations('audit', await axeViolations(page)));
    expect(problems).toEqual([]);

    // The audit trail: a timestamp on one line, even on a laptop screen with long details;
    // details as "key: value", not JSON.
    await page.setViewportSize({ width: 1024, height: 768 });
    const when = entry.locator('td').first();
    const lines = await when.evaluate((td) => {
      const range = td.ownerDocument.createRange();
      range.selectNodeContents(td);
      return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
    });
    expect(lines).toBe(1);
    const detail = (await entry.locator('td').last().innerText()).trim();
    expect(detail).toContain('fields: phoneNumbers, emailAddresses, familyName, field:Address');
    expect(detail).toContain('cause: spry_edit');
    expect(detail).not.toMatch(/[{}"]/);
    expect(errors).toEqual([]);
  });
});
