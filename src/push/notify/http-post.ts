import { parseRetryAfter } from './backoff.js';
import { logDetail, type SendResult } from './channel.js';

/**
 * POSTs JSON for the HTTP channels. 2xx is delivered; 408, 429 and 5xx and
 * network errors are worth a retry (429 and 503 with their Retry-After);
 * any other answer will not change by trying again. The URL is never in the
 * result: a Slack webhook URL is a credential.
 */
export async function postJson(url: string, body: string, headers: Record<string, string>, timeoutMs: number, now: () => Date): Promise<SendResult> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'aibox-approvals', ...headers },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    return { ok: false, retryable: true, detail: networkError(error, url) };
  }
  const text = await response.text().catch(() => '');
  const detail = logDetail(`HTTP ${response.status}${text ? `: ${text}` : ''}`.split(url).join('<url>'));
  if (response.ok) return { ok: true, status: response.status, detail };
  const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
  const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now());
  return { ok: false, retryable, status: response.status, detail, ...(retryable && retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}

function networkError(error: unknown, url: string): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'no answer in time';
  const cause = error instanceof Error ? error.cause : undefined;
  const code = cause instanceof Error && 'code' in cause ? String(cause.code) : undefined;
  const message = cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
  return logDetail(`${code && !message.includes(code) ? `${code}: ` : ''}${message}`.split(url).join('<url>'));
}
