import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ApprovalStore } from '../store/index.js';
import type { Channel } from './channel.js';
import { createDispatcher } from './dispatcher.js';
import { emailChannel } from './email.js';
import { outboxWriter, type Notify, type NotifyLog } from './outbox.js';
import type { NotifySettings } from './settings.js';
import { slackChannel } from './slack.js';
import { webhookChannel } from './webhook.js';

/**
 * Notifications of the approval service, which never block a push: the
 * request path writes to an outbox in the approval store; a dispatcher in
 * each replica sends from it (Slack, a signed webhook, email) with retries,
 * and logs every attempt.
 */
export { NotifyConfig } from './config.js';
export { deliveryLog, formatDeliveryLog, type DeliveryLogEntry } from './delivery-log.js';
export { eventOf, EVENT_KINDS, EventKind, PushEvent } from './event.js';
export type { Notify, NotifyLog } from './outbox.js';
export { resolveNotify, type NotifySettings } from './settings.js';
export { signWebhook, verifyWebhookSignature } from './webhook.js';

export interface Notifications {
  notify: Notify;
  stop(): Promise<void>;
}

export interface NotificationOptions {
  store: ApprovalStore;
  settings: NotifySettings;
  /** Where the dashboard is: links point at <baseUrl>/dashboard/requests/<id>. */
  baseUrl: string;
  log: NotifyLog;
  now?: () => Date;
}

/** The channels the settings configure, in a fixed order. */
export function channelsOf(settings: NotifySettings, baseUrl: string, now: () => Date): Channel[] {
  const channels: Channel[] = [];
  if (settings.slack) channels.push(slackChannel(settings.slack.webhookUrl, baseUrl, settings.timeoutMs, now));
  if (settings.webhook) channels.push(webhookChannel(settings.webhook.url, settings.webhook.secret, baseUrl, settings.timeoutMs, now));
  if (settings.email) channels.push(emailChannel(settings.email, baseUrl, settings.timeoutMs));
  return channels;
}

export function startNotifications(options: NotificationOptions): Notifications {
  const now = options.now ?? (() => new Date());
  const channels = channelsOf(options.settings, options.baseUrl, now);
  const dispatcher = createDispatcher({
    store: options.store,
    channels,
    retry: options.settings.retry,
    owner: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    // SMTP's connect, greeting and reply each have the timeout: a lease well beyond a whole send.
    leaseMs: Math.max(60_000, 6 * options.settings.timeoutMs),
    now,
    random: Math.random,
    log: options.log,
  });
  dispatcher.start();
  return { notify: outboxWriter(options.store, channels, options.log, () => dispatcher.kick()), stop: () => dispatcher.stop() };
}
