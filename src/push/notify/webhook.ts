import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Channel } from './channel.js';
import type { PushEvent } from './event.js';
import { postJson } from './http-post.js';
import { publicRequest, requestLink } from './message.js';

/**
 * A generic webhook: POST `{event, at, link, request}` as JSON, signed with
 * HMAC-SHA256 over "<timestamp>.<body>" (the timestamp in the signature keeps
 * an old delivery from being replayed later). Receivers check it with
 * verifyWebhookSignature or its equivalent (docs/push.md).
 */
export const SIGNATURE_HEADER = 'x-aibox-signature';
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface SignedDelivery {
  secret: string;
  /** X-Aibox-Timestamp: Unix seconds. */
  timestamp: string | undefined;
  /** X-Aibox-Signature: sha256=<hex>. */
  signature: string | undefined;
  /** The raw body, exactly as received. */
  body: string;
  now?: Date;
  toleranceSeconds?: number;
}

/** True when the signature is the sender's and the timestamp is within the tolerance of now. */
export function verifyWebhookSignature(delivery: SignedDelivery): boolean {
  const { timestamp, signature } = delivery;
  if (timestamp === undefined || signature === undefined || !/^\d{1,12}$/.test(timestamp)) return false;
  const age = Math.abs((delivery.now ?? new Date()).getTime() / 1000 - Number(timestamp));
  if (age > (delivery.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return false;
  const expected = Buffer.from(signWebhook(delivery.secret, timestamp, delivery.body));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function webhookBody(event: PushEvent, baseUrl: string): string {
  return JSON.stringify({ event: event.kind, at: event.at, link: requestLink(baseUrl, event.request.id), request: publicRequest(event.request) });
}

export function webhookChannel(url: string, secret: string, baseUrl: string, timeoutMs: number, now: () => Date): Channel {
  return {
    name: 'webhook',
    accepts: () => true,
    send(event, deliveryId) {
      const body = webhookBody(event, baseUrl);
      const timestamp = String(Math.floor(now().getTime() / 1000));
      const headers = { 'x-aibox-event': event.kind, 'x-aibox-delivery': deliveryId, 'x-aibox-timestamp': timestamp, [SIGNATURE_HEADER]: signWebhook(secret, timestamp, body) };
      return postJson(url, body, headers, timeoutMs, now);
    },
  };
}
