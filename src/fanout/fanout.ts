// The fan-out as the service runs it: its store, the subscriptions in memory, the intake the
// ingest path and the workers offer events to, the delivery engine, alerts, retention, and the
// operator functions the admin API serves. service.ts plugs it in through four hooks.
import { randomInt } from 'node:crypto';
import type { CancelTimer, Clock } from '../clock.ts';
import { openConfiguredFanoutStore } from '../config/database.ts';
import type { Config } from '../config/schema.ts';
import { errorCode } from '../errors.ts';
import type { Logger } from '../observe/logger.ts';
import type { PostAlert } from '../observe/alerts.ts';
import type { Job, JobAttempt, NewInboundEvent, Store } from '../store/types.ts';
import type { SyncNotice } from '../sync/handlers.ts';
import { fanoutAlerter, type FanoutAlert } from './alerts.ts';
import { Dispatcher } from './dispatcher.ts';
import { FanoutIntake } from './intake.ts';
import { SubscriptionRegistry } from './registry.ts';
import { WebhookSender, type Send } from './sender.ts';
import { SubscriptionAdmin } from './subscriptions.ts';
import type { FanoutStore, Subscription } from './types.ts';
import type { AddressPolicy, Resolve } from './url-guard.ts';

export interface FanoutDeps {
  config: Config;
  mainStore: Store;
  clock: Clock;
  logger: Logger;
  workerId: string;
  /** Default: opened from config.database. */
  store?: FanoutStore;
  /** Default: HTTP through the guarded pool. */
  send?: Send;
  resolve?: Resolve;
  /** Every fan-out alert (besides the POST to the tenant's alerts.url). */
  onAlert?: (alert: FanoutAlert) => void;
  postAlert?: PostAlert;
  /** Jitter source; default crypto-random. */
  random?: () => number;
  /**
   * Whether a tenant's deliveries may go out now; default: always. The service answers from its
   * tenant registry: a disabled tenant's deliveries wait (stored, in order) until it is enabled,
   * a removed one's never go (purged after the retention period).
   */
  sending?: (tenantId: string) => boolean;
}

export interface Fanout {
  store: FanoutStore;
  registry: SubscriptionRegistry;
  intake: FanoutIntake;
  dispatcher: Dispatcher;
  admin: SubscriptionAdmin;
  /** Webhook route hook: an inbound event was stored (fire and forget). */
  onInboundStored: (event: NewInboundEvent) => void;
  /** Worker hook: a sync outcome (awaited; never throws). */
  onSyncNotice: (notice: SyncNotice) => Promise<void>;
  /** Worker hook: a job became a dead letter. */
  onJobAttempt: (attempt: JobAttempt, job: Job) => void;
  /** Reloads the subscriptions from the store (also done every poll interval). */
  refresh(): Promise<void>;
  /** Starts delivering (when `fanout.enabled`), after offering again what a crash may have left out. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const HOUR = 3_600_000;

export async function createFanout(deps: FanoutDeps): Promise<Fanout> {
  const { config, clock, logger } = deps;
  const settings = config.fanout;
  const store = deps.store ?? (await openConfiguredFanoutStore(config.database, logger));
  const ownsStore = deps.store === undefined;
  const sender = deps.send ? null : new WebhookSender({ timeoutMs: settings.timeoutMs, snippetBytes: settings.responseSnippetBytes, resolve: deps.resolve });
  const send: Send = deps.send ?? sender!.send;
  // Read at each delivery: the service's tenant list follows the tenant directory.
  const policyOf = (tenantId: string): AddressPolicy => {
    const tenant = config.tenants.find((t) => t.id === tenantId);
    return tenant ? { allowLoopback: tenant.fanout.allowLoopback, allowedNetworks: tenant.fanout.allowedNetworks } : { allowLoopback: false, allowedNetworks: [] };
  };
  const raise = fanoutAlerter({
    tenants: config.tenants,
    post: deps.postAlert,
    onAlert: (alert) => {
      logger.warn({ tenantId: alert.tenantId, subscriptionId: alert.subscriptionId, alert: alert.alert, state: alert.state }, 'fan-out alert');
      deps.onAlert?.(alert);
    },
    onError: (error, tenantId) => logger.error({ tenantId, code: errorCode(error) }, 'fan-out alert could not be sent'),
  });

  const registry = new SubscriptionRegistry();
  registry.replace(await store.listSubscriptions());
  // The intake matches every subscription (a held tenant's events are kept for later); the
  // delivery engine runs lanes only for the tenants sending now, re-read at every refresh.
  const sendingNow = (all: readonly Subscription[]) => (deps.sending ? all.filter((s) => deps.sending!(s.tenantId)) : [...all]);
  const dispatcher = new Dispatcher({
    store,
    clock,
    send,
    pollIntervalMs: settings.pollIntervalMs,
    settings: {
      workerId: deps.workerId,
      leaseMs: settings.timeoutMs + 30_000,
      retryAfterCapMs: settings.retryAfterCapMs,
      jitter: settings.jitter,
      circuit: settings.circuit,
    },
    policyOf,
    random: deps.random ?? (() => randomInt(0, 1_000_000) / 1_000_000),
    onDisabled: (subscription, health) => {
      registry.upsert(subscription);
      raise({
        tenantId: subscription.tenantId,
        alert: 'subscription_disabled',
        subscriptionId: subscription.id,
        state: 'firing',
        value: health.consecutiveFailures,
        threshold: settings.circuit.disableAfterMs,
        at: new Date(clock.now()).toISOString(),
        service: 'spruce-sync',
      });
    },
    onAttempt: (subscription, delivery, result, status) => {
      if (status === 'delivered') return;
      logger.debug(
        { tenantId: subscription.tenantId, subscriptionId: subscription.id, deliveryId: delivery.id, status: result.status, code: result.errorCode, outcome: status },
        'fan-out delivery attempt failed',
      );
    },
    onError: (error) => logger.error({ code: errorCode(error) }, 'fan-out delivery engine store call failed'),
  });
  const intake = new FanoutIntake({
    store,
    mainStore: deps.mainStore,
    registry,
    clock,
    logger,
    onDeliveries: (ids) => dispatcher.notify(ids),
  });
  const admin = new SubscriptionAdmin({
    store,
    clock,
    tenants: config.tenants,
    fanout: settings,
    resolve: deps.resolve,
    circuitState: (id) => dispatcher.circuitState(id),
    onChange: (subscription, id) => {
      if (subscription) registry.upsert(subscription);
      else registry.remove(id);
      dispatcher.sync(sendingNow(registry.all()));
      dispatcher.notify([id]);
    },
    onReenabled: (subscription) =>
      raise({
        tenantId: subscription.tenantId,
        alert: 'subscription_disabled',
        subscriptionId: subscription.id,
        state: 'resolved',
        value: 0,
        threshold: settings.circuit.disableAfterMs,
        at: new Date(clock.now()).toISOString(),
        service: 'spruce-sync',
      }),
    logger,
  });

  let refreshTimer: CancelTimer | null = null;
  let pruneTimer: CancelTimer | null = null;
  let closed = false;
  const refresh = async () => {
    const all = await store.listSubscriptions();
    registry.replace(all);
    dispatcher.sync(sendingNow(all));
  };
  const scheduleRefresh = () => {
    refreshTimer = clock.setTimer(settings.pollIntervalMs, () => {
      refresh()
        .catch((error: unknown) => logger.error({ code: errorCode(error) }, 'fan-out subscriptions could not be reloaded'))
        .finally(() => {
          if (!closed) scheduleRefresh();
        });
    });
  };
  const schedulePrune = () => {
    pruneTimer = clock.setTimer(HOUR, () => {
      store
        .prune(clock.now() - settings.retentionDays * 24 * HOUR)
        .then((removed) => {
          if (removed.deliveries > 0) logger.info(removed, 'fan-out: settled deliveries pruned');
        })
        .catch((error: unknown) => logger.error({ code: errorCode(error) }, 'fan-out prune failed'))
        .finally(() => {
          if (!closed) schedulePrune();
        });
    });
  };

  return {
    store,
    registry,
    intake,
    dispatcher,
    admin,
    onInboundStored: (event) => intake.offerInbound(event),
    onSyncNotice: (notice) => intake.offerNotice(notice),
    onJobAttempt: (attempt, job) => {
      if (attempt.outcome !== 'dead') return;
      const ids: Record<string, string | number> = { ...job.params, jobKey: job.key };
      void intake.offerNotice({
        tenantId: job.tenantId,
        kind: 'dead_lettered',
        key: `dead_lettered:${job.id}:${job.attempts}:${attempt.finishedAt}`,
        ids,
        detail: { task: job.task, errorCode: attempt.errorCode, attempts: job.attempts },
        at: attempt.finishedAt,
      });
    },
    refresh,
    async start() {
      const recovered = settings.recoverMs > 0 ? await intake.recover(config.tenants.map((t) => t.id), clock.now() - settings.recoverMs) : 0;
      if (recovered > 0) logger.info({ offered: recovered }, 'fan-out: recent inbox events offered again after start');
      if (settings.enabled) dispatcher.start(sendingNow(registry.all()));
      scheduleRefresh();
      schedulePrune();
    },
    async close() {
      closed = true;
      refreshTimer?.();
      pruneTimer?.();
      await intake.settle();
      await dispatcher.stop();
      await sender?.close();
      if (ownsStore) await store.close();
    },
  };
}
