import type { Transporter } from 'nodemailer';
import type { SMTPTransportOptions } from 'nodemailer/lib/smtp-transport';
import { z } from 'zod';
import { logDetail, type Channel, type SendResult } from './channel.js';
import { forApprovers, type PushEvent } from './event.js';
import { factsOf, outcomeOf, requestLink, summaryOf, TITLES } from './message.js';
import type { EmailSettings } from './settings.js';

/**
 * Email over SMTP with nodemailer: STARTTLS whenever the server offers it,
 * and required when a password is set (a password never crosses the network
 * in clear). New requests go to the approvers; outcomes to the developer's
 * address (explicit, else from the developer_address template). A 4xx reply
 * or a network error is worth a retry; a 5xx reply is final.
 */
const SmtpError = z.object({ message: z.string(), code: z.string().optional(), responseCode: z.number().optional(), response: z.string().optional() });
const SmtpInfo = z.object({ response: z.string() });
const Address = z.email();

export function recipientsOf(event: PushEvent, settings: EmailSettings): string[] {
  if (forApprovers(event)) return settings.approvers;
  const { pusher } = event.request;
  const address = Object.hasOwn(settings.developers, pusher) ? settings.developers[pusher] : settings.developerAddress?.replaceAll('{pusher}', pusher);
  return address !== undefined && Address.safeParse(address).success ? [address] : [];
}

export function emailMessage(event: PushEvent, link: string): { subject: string; text: string } {
  const { request } = event;
  const lead = outcomeOf(event) ?? `${request.pusher} pushed to ${request.targetRef} and waits for an approval.`;
  const facts = [...factsOf(request), ['Request', request.id]].map(([label, value]) => `${`${label}:`.padEnd(12)}${value}`);
  const text = [TITLES[event.kind], '', lead, '', ...facts, '', `Open it: ${link}`, '', '-- aibox approvals'].join('\n');
  return { subject: `[aibox] ${summaryOf(event)}`, text };
}

export function transportOptions(settings: EmailSettings, timeoutMs: number): SMTPTransportOptions {
  const url = new URL(settings.smtp);
  const secure = url.protocol === 'smtps:';
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    requireTLS: settings.auth !== undefined,
    ...(settings.auth ? { auth: settings.auth } : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  };
}

export function emailChannel(settings: EmailSettings, baseUrl: string, timeoutMs: number): Channel {
  // nodemailer is loaded when the first mail goes out, not by every aibox command.
  let transport: Promise<Transporter> | undefined;
  const mailer = () => (transport ??= import('nodemailer').then((nodemailer) => nodemailer.createTransport(transportOptions(settings, timeoutMs))));
  return {
    name: 'email',
    accepts: (event) => recipientsOf(event, settings).length > 0,
    async send(event, deliveryId): Promise<SendResult> {
      const message = emailMessage(event, requestLink(baseUrl, event.request.id));
      try {
        const info = SmtpInfo.parse(await (await mailer()).sendMail({ from: settings.from, to: recipientsOf(event, settings), ...message, headers: { 'X-Aibox-Delivery': deliveryId } }));
        return { ok: true, ...replyCode(info.response), detail: logDetail(info.response) };
      } catch (error) {
        const smtp = SmtpError.safeParse(error);
        if (!smtp.success) return { ok: false, retryable: true, detail: logDetail(String(error)) };
        const { responseCode, response, code, message: text } = smtp.data;
        const detail = logDetail(response ?? `${code ? `${code}: ` : ''}${text}`);
        return { ok: false, retryable: responseCode === undefined || responseCode < 500, detail, ...(responseCode !== undefined ? { status: responseCode } : {}) };
      }
    },
    close: () => void transport?.then((t) => t.close()).catch(() => undefined),
  };
}

function replyCode(response: string): { status?: number } {
  const code = /^([2-5]\d\d)\b/.exec(response)?.[1];
  return code ? { status: Number(code) } : {};
}
