import type { Clock } from '../../../clock.ts';
import type { SpryRecords } from '../records.ts';
import type { SubscriptionService } from '../subscriptions.ts';
import type { SpryWebhooks } from '../webhooks.ts';

/** What the resource routes work with. */
export interface RouteDeps {
  clock: Clock;
  records: SpryRecords;
  subscriptions: SubscriptionService;
  webhooks: SpryWebhooks;
}
