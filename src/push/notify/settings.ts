import { AiboxError } from '../../core/errors.js';
import type { RetryPolicy } from './backoff.js';
import type { NotifyConfig } from './config.js';
import { resolveSecret } from '../../core/secrets.js';

/** The `notify:` section with its secrets resolved: what the channels are built from, once, at service start. */
export interface NotifySettings {
  slack?: { webhookUrl: string };
  webhook?: { url: string; secret: string };
  email?: EmailSettings;
  retry: RetryPolicy;
  timeoutMs: number;
}

export interface EmailSettings {
  smtp: string;
  auth?: { user: string; pass: string };
  from: string;
  approvers: string[];
  developerAddress?: string;
  developers: Record<string, string>;
}

const MIN_WEBHOOK_SECRET = 16;

/** `where` names the config file in errors: `FILE: notify.slack.webhook: …`. */
export async function resolveNotify(config: NotifyConfig, env: NodeJS.ProcessEnv, where: string): Promise<NotifySettings> {
  const secret = (reference: string, field: string) =>
    resolveSecret(reference, field, env).catch((error: unknown) => {
      throw error instanceof AiboxError ? new AiboxError(error.code, `${where}: ${error.message}`, error.hint) : error;
    });
  const settings: NotifySettings = {
    retry: { firstDelayMs: config.retry.first_delay, maxDelayMs: Math.max(config.retry.max_delay, config.retry.first_delay), maxAttempts: config.retry.max_attempts },
    timeoutMs: config.timeout,
  };
  if (config.slack) {
    const webhookUrl = await secret(config.slack.webhook, 'notify.slack.webhook');
    if (!isHttpUrl(webhookUrl)) throw new AiboxError('INVALID_FILE', `${where}: notify.slack.webhook: the value of ${config.slack.webhook} is not an http(s) URL`, 'it is the incoming webhook URL Slack gave you: https://hooks.slack.com/services/…');
    settings.slack = { webhookUrl };
  }
  if (config.webhook) {
    const key = await secret(config.webhook.secret, 'notify.webhook.secret');
    if (key.length < MIN_WEBHOOK_SECRET) throw new AiboxError('INVALID_FILE', `${where}: notify.webhook.secret: the value of ${config.webhook.secret} is shorter than ${MIN_WEBHOOK_SECRET} characters`, 'use a random key, e.g. openssl rand -hex 32');
    settings.webhook = { url: config.webhook.url, secret: key };
  }
  if (config.email) {
    const { username, password } = config.email;
    settings.email = {
      smtp: config.email.smtp,
      ...(username !== undefined && password !== undefined ? { auth: { user: username, pass: await secret(password, 'notify.email.password') } } : {}),
      from: config.email.from,
      approvers: config.email.approvers,
      ...(config.email.developer_address !== undefined ? { developerAddress: config.email.developer_address } : {}),
      developers: config.email.developers,
    };
  }
  return settings;
}

function isHttpUrl(text: string): boolean {
  return URL.canParse(text) && /^https?:$/.test(new URL(text).protocol);
}
