import { z } from 'zod';
import { Duration } from '../../core/duration.js';
import { SecretRef } from '../../core/secrets.js';
import { Identity } from '../store/index.js';

/**
 * The `notify:` section of the approval service's config file: which
 * channels are used, where they go, and how deliveries are retried. Secrets
 * are never in the file itself, only references (core/secrets.ts resolves them).
 */

const Email = z.email('must be an email address such as carol@example.com');

export const SlackConfig = z.strictObject({
  /** The incoming webhook's URL is its credential. */
  webhook: SecretRef,
});

export const WebhookConfig = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  /** The HMAC-SHA256 key receivers verify X-Aibox-Signature with. */
  secret: SecretRef,
});

export const EmailConfig = z
  .strictObject({
    /** smtp://host[:port] (STARTTLS when offered; required when a password is set) or smtps://host[:port]. */
    smtp: z.url({ protocol: /^smtps?$/, error: 'must be an smtp:// or smtps:// URL such as smtp://mail.example.com:587' }),
    username: z.string().min(1).max(256).optional(),
    password: SecretRef.optional(),
    from: Email,
    /** Who is told about new requests. */
    approvers: z.array(Email).max(100).default([]),
    /** The developer's address from their identity, e.g. "{pusher}@example.com". */
    developer_address: z.string().includes('{pusher}', { message: 'must contain {pusher}, e.g. "{pusher}@example.com"' }).optional(),
    /** Explicit addresses by identity; they win over developer_address. */
    developers: z.record(Identity, Email).default({}),
  })
  .refine((email) => (email.username === undefined) === (email.password === undefined), { path: ['password'], message: 'username and password go together: set both or neither' });

export const RetryConfig = z.strictObject({
  first_delay: Duration.default(5000),
  max_delay: Duration.default(3600_000),
  max_attempts: z.int().min(1).max(100).default(8),
});

export const NotifyConfig = z.strictObject({
  slack: SlackConfig.optional(),
  webhook: WebhookConfig.optional(),
  email: EmailConfig.optional(),
  retry: RetryConfig.prefault({}),
  /** How long one attempt may take (connect, send, answer). */
  timeout: Duration.default(10_000),
});
export type NotifyConfig = z.infer<typeof NotifyConfig>;
