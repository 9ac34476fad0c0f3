import { z } from 'zod';
import { lockSchema } from '../packs/lockfile.js';
import { StagedReport } from '../push/staging.js';

/**
 * The channel from a terminal inside the sandbox to aibox on the host, for the
 * few commands whose checks must run where the policy and the trusted keys are.
 *
 * A small host process (`aibox broker`, started by `aibox start`) listens on a
 * Unix socket on the host and keeps an SSH connection to the sandbox that
 * forwards 127.0.0.1:SANDBOX_PORT in the sandbox to it (`ssh -R`). The sandbox
 * side can send exactly seven kinds of request: install these pack specs with
 * this lock, enable these MCP packs, list the MCP packs there are, ask
 * what the policy makes of a push to a URL (and who pushes), and, with the
 * approval service, register staged pushes, list this developer's requests and
 * cancel one (with the host's token, which never enters the sandbox). The host answers with the same code,
 * policy and signature checks as on the host, into this instance only. So the
 * agent can ask for what the policy allows and the trusted keys signed, and
 * nothing else: no other verb, no path, no registry, no instance, no flag that
 * loosens a check, no server definition of its own (MCP packs come from the
 * host's catalog).
 */
/** Where the sandbox side reaches the host side: a loopback port in the sandbox (sshd's remote forward). */
export const SANDBOX_PORT = 7329;
export const MAX_REQUEST_BYTES = 64 * 1024;
const MAX_ITEMS = 20;

export const brokerRequestSchema = z.discriminatedUnion('op', [
  z
    .object({
      v: z.literal(1),
      op: z.literal('install'),
      packs: z.array(z.string().max(100)).min(1).max(MAX_ITEMS),
      frozen: z.boolean().default(false),
      lock: lockSchema,
      hasLockFile: z.boolean(),
    })
    .strict(),
  z
    .object({
      v: z.literal(1),
      op: z.literal('mcp-enable'),
      packs: z.array(z.string().max(100)).min(1).max(MAX_ITEMS),
    })
    .strict(),
  z.object({ v: z.literal(1), op: z.literal('mcp-catalog') }).strict(),
  z.object({ v: z.literal(1), op: z.literal('push-check'), url: z.string().min(1).max(2048) }).strict(),
  z.object({ v: z.literal(1), op: z.literal('push-requests') }).strict(),
  z.object({ v: z.literal(1), op: z.literal('push-cancel'), id: z.string().regex(/^[0-9a-f]{10}$/, 'a push request id: 10 hex digits') }).strict(),
  z.object({ v: z.literal(1), op: z.literal('push-register'), url: z.string().min(1).max(2048), pushes: z.array(StagedReport).min(1).max(MAX_ITEMS) }).strict(),
]);

export type BrokerRequest = z.infer<typeof brokerRequestSchema>;

/** One line of the broker's answer: progress, then exactly one result or error. */
export const brokerReplySchema = z.union([
  z.object({ progress: z.string() }).strict(),
  z.object({ warning: z.string() }).strict(),
  z.object({ ok: z.literal(true), report: z.unknown() }).strict(),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string(), hint: z.string().optional() }) }).strict(),
]);
