// `spruce-sync subscriptions …`: the clinic's other systems subscribed to our events (docs/fanout.md).
// Acts on the service's database like the other operator commands; a running service picks up
// changes, test events and replays within one fan-out poll interval.
import type { Command } from 'commander';
import { systemClock } from '../clock.ts';
import { openConfiguredFanoutStore } from '../config/database.ts';
import { AdminError } from '../errors.ts';
import { parseDuration } from '../fanout/retry-schedule.ts';
import { SubscriptionAdmin, type SubscriptionView } from '../fanout/subscriptions.ts';
import type { DeliveryStatus } from '../fanout/types.ts';
import { cliInt, cliTime, isoTime, printJson, printTable, withConfiguredStore } from './admin-context.ts';

function withSubscriptions(configFile: string, fn: (admin: SubscriptionAdmin) => Promise<void>): Promise<void> {
  return withConfiguredStore(
    configFile,
    (config) => openConfiguredFanoutStore(config.database),
    (store, config) => fn(new SubscriptionAdmin({ store, clock: systemClock, tenants: config.tenants, fanout: config.fanout })),
  );
}

const list = (value: string) => value.split(',').map((v) => v.trim()).filter((v) => v !== '');

function describe(s: SubscriptionView): void {
  printTable(
    ['field', 'value'],
    [
      ['id', s.id],
      ['url', s.url],
      ['status', s.statusReason ? `${s.status} (${s.statusReason})` : s.status],
      ['events', s.eventTypes.join(', ')],
      ['filter', s.filter ? JSON.stringify(s.filter) : null],
      ['version', s.version === s.latestVersion ? s.version : `${s.version} (newest: ${s.latestVersion})`],
      ['phi', s.allowPhi ? 'allowed' : 'withheld'],
      ['order', s.ordered ? 'per patient' : 'none'],
      ['retries', s.retrySchedule.join(' ')],
      ['limits', `${s.ratePerSecond || 'no'} req/s, ${s.maxInFlight} in flight`],
      ['deliveries', `${s.deliveries.pending} pending, ${s.deliveries.delivered} delivered, ${s.deliveries.failed} failed`],
      ['failing', s.health.failingSince ? `since ${isoTime(s.health.failingSince)} (${s.health.consecutiveFailures} in a row)` : null],
      ['secrets', s.secrets.previousExpiresAt ? `${s.secrets.signing} signing; previous until ${isoTime(s.secrets.previousExpiresAt)}` : String(s.secrets.signing)],
    ],
  );
}

export function registerSubscriptionsCommand(program: Command): void {
  const subscriptions = program.command('subscriptions').description("Event subscriptions of the clinic's other systems (webhooks out)");
  const configured = (command: Command) => command.requiredOption('-c, --config <file>', 'the service config file').option('--json', 'print JSON');

  configured(subscriptions.command('add <tenant> <url>').description('Subscribe an endpoint; prints its signing secret, shown this once'))
    .requiredOption('--types <list>', 'event types or patterns, comma-separated: spry.*,sync.contact.*')
    .option('--filter <json>', 'payload filter, e.g. {"subject.patientId":123}')
    .option('--allow-phi', 'also deliver Spruce events, which contain PHI')
    .option('--unordered', "do not keep a patient's events in order")
    .option('--rate <n>', 'requests per second (0 = no limit)')
    .option('--in-flight <n>', 'requests in flight at once')
    .option('--retry <list>', 'waits between attempts, comma-separated: 10s,1m,10m,1h')
    .option('--version <version>', 'pin an older payload version')
    .option('--description <text>', 'a note for operators')
    .action(async (tenantId: string, url: string, o: { config: string; json?: boolean; types: string; filter?: string; allowPhi?: boolean; unordered?: boolean; rate?: string; inFlight?: string; retry?: string; version?: string; description?: string }) => {
      await withSubscriptions(o.config, async (admin) => {
        const added = await admin.add(tenantId, {
          url,
          eventTypes: list(o.types),
          filter: o.filter,
          allowPhi: o.allowPhi,
          ordered: o.unordered ? false : undefined,
          ratePerSecond: o.rate === undefined ? undefined : Number(o.rate),
          maxInFlight: cliInt(o.inFlight, 'in-flight'),
          retrySchedule: o.retry === undefined ? undefined : list(o.retry),
          version: o.version,
          description: o.description,
        });
        if (o.json) return printJson(added);
        describe(added.subscription);
        console.log(`\nsigning secret (shown once, keep it safe): ${added.secret}`);
      });
    });

  configured(subscriptions.command('list <tenant>').description("The tenant's subscriptions")).action(async (tenantId: string, o: { config: string; json?: boolean }) => {
    await withSubscriptions(o.config, async (admin) => {
      const all = await admin.list(tenantId);
      if (o.json) return printJson({ subscriptions: all });
      printTable(
        ['id', 'status', 'events', 'pending', 'failed', 'url'],
        all.map((s) => [s.id, s.status, s.eventTypes.join(','), s.deliveries.pending, s.deliveries.failed, s.url]),
      );
    });
  });

  configured(subscriptions.command('show <tenant> <id>').description('One subscription')).action(async (tenantId: string, id: string, o: { config: string; json?: boolean }) => {
    await withSubscriptions(o.config, async (admin) => {
      const view = await admin.get(tenantId, id);
      if (o.json) return printJson(view);
      describe(view);
    });
  });

  const simple = {
    pause: ['Pause: events are kept and wait, in order', (a: SubscriptionAdmin, t: string, id: string) => a.pause(t, id)],
    resume: ['Resume, or re-enable a disabled subscription: what accrued is delivered, in order', (a: SubscriptionAdmin, t: string, id: string) => a.resume(t, id)],
  } as const;
  for (const [name, [description, run]] of Object.entries(simple)) {
    configured(subscriptions.command(`${name} <tenant> <id>`).description(description)).action(async (tenantId: string, id: string, o: { config: string; json?: boolean }) => {
      await withSubscriptions(o.config, async (admin) => {
        const view = await run(admin, tenantId, id);
        if (o.json) return printJson(view);
        console.log(`${view.id}: ${view.status} (${view.deliveries.pending} pending)`);
      });
    });
  }

  configured(subscriptions.command('remove <tenant> <id>').description('Remove a subscription and its deliveries')).action(async (tenantId: string, id: string, o: { config: string; json?: boolean }) => {
    await withSubscriptions(o.config, async (admin) => {
      await admin.remove(tenantId, id);
      if (o.json) return printJson({ removed: id });
      console.log(`${id}: removed`);
    });
  });

  configured(subscriptions.command('test <tenant> <id>').description('Send a webhook.test event')).action(async (tenantId: string, id: string, o: { config: string; json?: boolean }) => {
    await withSubscriptions(o.config, async (admin) => {
      const queued = await admin.sendTest(tenantId, id);
      if (o.json) return printJson(queued);
      console.log(`test event ${queued.messageId} queued for ${id}`);
    });
  });

  configured(subscriptions.command('rotate <tenant> <id>').description('New signing secret (shown once); the previous one keeps signing for the overlap'))
    .option('--overlap <duration>', 'how long the previous secret keeps signing (default fanout.rotationOverlapMs)')
    .action(async (tenantId: string, id: string, o: { config: string; json?: boolean; overlap?: string }) => {
      await withSubscriptions(o.config, async (admin) => {
        const overlap = o.overlap === undefined ? undefined : parseDuration(o.overlap);
        if (overlap === null) throw new AdminError('bad_request', 'overlap: a duration such as 30m or 24h');
        const rotated = await admin.rotateSecret(tenantId, id, overlap);
        if (o.json) return printJson(rotated);
        console.log(`new signing secret (shown once, keep it safe): ${rotated.secret}`);
        if (rotated.previousExpiresAt) console.log(`the previous secret keeps signing until ${isoTime(rotated.previousExpiresAt)}`);
      });
    });

  configured(subscriptions.command('upgrade <tenant> <id>').description('Move to a newer payload version (default the newest)'))
    .option('--version <version>', 'the version to move to')
    .action(async (tenantId: string, id: string, o: { config: string; json?: boolean; version?: string }) => {
      await withSubscriptions(o.config, async (admin) => {
        const view = await admin.upgrade(tenantId, id, o.version);
        if (o.json) return printJson(view);
        console.log(`${view.id}: payload version ${view.version}`);
      });
    });

  configured(subscriptions.command('replay <tenant> <id>').description('Send again one delivery (--delivery) or every failed one created in a window (--since)'))
    .option('--delivery <n>', 'one delivery id')
    .option('--since <time>', 'failed deliveries created since: 30m, 2h, 7d, ISO 8601 or epoch ms')
    .option('--until <time>', '… and before (default now)')
    .action(async (tenantId: string, id: string, o: { config: string; json?: boolean; delivery?: string; since?: string; until?: string }) => {
      await withSubscriptions(o.config, async (admin) => {
        const deliveryId = cliInt(o.delivery, 'delivery');
        if ((deliveryId === undefined) === (o.since === undefined)) throw new AdminError('bad_request', 'give --delivery <n> or --since <time>');
        const result =
          deliveryId !== undefined
            ? await admin.replayOne(tenantId, id, deliveryId)
            : await admin.replayFailed(tenantId, id, { since: cliTime(o.since, 'since')!, until: cliTime(o.until, 'until') });
        if (o.json) return printJson(result);
        console.log(`${result.replayed} ${result.replayed === 1 ? 'delivery' : 'deliveries'} queued again for ${id}`);
      });
    });

  configured(subscriptions.command('deliveries <tenant> <id>').description('Deliveries, newest first'))
    .option('--status <status>', 'pending, delivered or failed')
    .option('--since <time>', 'created since: 30m, 2h, 7d, ISO 8601 or epoch ms')
    .option('--until <time>', 'created before')
    .option('--limit <n>', 'at most this many (≤ 500)', '50')
    .option('--before <id>', 'page: older than this id')
    .action(async (tenantId: string, id: string, o: { config: string; json?: boolean; status?: string; since?: string; until?: string; limit: string; before?: string }) => {
      await withSubscriptions(o.config, async (admin) => {
        if (o.status !== undefined && !['pending', 'delivered', 'failed'].includes(o.status)) throw new AdminError('bad_request', 'status: pending, delivered or failed');
        const page = await admin.deliveries(tenantId, id, {
          status: o.status as DeliveryStatus | undefined,
          since: cliTime(o.since, 'since'),
          until: cliTime(o.until, 'until'),
          before: cliInt(o.before, 'before'),
          limit: Math.min(500, cliInt(o.limit, 'limit') ?? 50),
        });
        if (o.json) return printJson(page);
        printTable(
          ['id', 'created', 'type', 'status', 'attempts', 'last', 'next', 'webhook-id'],
          page.deliveries.map((d) => [d.id, isoTime(d.createdAt), d.type, d.status, d.attempts, d.lastStatus ?? d.lastError, d.status === 'pending' ? isoTime(d.nextAttemptAt) : null, d.messageId]),
        );
        if (page.nextBefore) console.log(`more: --before ${page.nextBefore}`);
      });
    });

  configured(subscriptions.command('attempts <tenant> <id> <delivery>').description('Every attempt of one delivery')).action(
    async (tenantId: string, id: string, delivery: string, o: { config: string; json?: boolean }) => {
      await withSubscriptions(o.config, async (admin) => {
        const result = await admin.attempts(tenantId, id, cliInt(delivery, 'delivery')!);
        if (o.json) return printJson(result);
        printTable(
          ['at', 'trigger', 'outcome', 'status', 'latency', 'error', 'response'],
          result.attempts.map((a) => [isoTime(a.attemptedAt), a.trigger, a.outcome, a.statusCode, `${a.latencyMs}ms`, a.errorCode, a.responseSnippet]),
        );
      });
    },
  );
}
