import assert from 'node:assert/strict';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AiboxError } from '../../src/core/errors.js';
import { readServiceConfig, serviceSettings } from '../../src/push/service/config.js';
import { failsWith } from '../helpers/errors.js';

async function configFile(text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'aibox-notify-config-')), 'approvals.yaml');
  await writeFile(path, text);
  return path;
}

async function secretFile(value: string, mode: number): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'aibox-notify-secret-')), 'webhook.key');
  await writeFile(path, value);
  await chmod(path, mode);
  return path;
}

/** What `approvals serve --config` does: read, validate, resolve the secrets. */
async function loadServiceConfig(path: string, environment: NodeJS.ProcessEnv) {
  return serviceSettings(await readServiceConfig(path), environment, path);
}

const env = { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/secret', SMTP_PASSWORD: 'smtp-password' };

describe('the service config file: notify', () => {
  it('resolves env: and file: secrets at start, and reads durations and defaults', async () => {
    const key = await secretFile('a-webhook-secret-of-some-length\n', 0o600);
    const path = await configFile(`public_url: https://aibox.example.com
notify:
  slack: { webhook: env:SLACK_WEBHOOK_URL }
  webhook: { url: "https://hooks.example.com/aibox", secret: "file:${key}" }
  email:
    smtp: smtp://mail.example.com:587
    username: aibox
    password: env:SMTP_PASSWORD
    from: aibox@example.com
    approvers: [carol@example.com]
    developer_address: "{pusher}@example.com"
  retry: { first_delay: 200ms, max_attempts: 3 }
`);
    const loaded = await loadServiceConfig(path, env);
    assert.equal(loaded.public_url, 'https://aibox.example.com');
    assert.deepEqual(loaded.notify?.slack, { webhookUrl: env.SLACK_WEBHOOK_URL });
    assert.deepEqual(loaded.notify?.webhook, { url: 'https://hooks.example.com/aibox', secret: 'a-webhook-secret-of-some-length' }, 'the trailing newline is not part of the key');
    assert.deepEqual(loaded.notify?.email?.auth, { user: 'aibox', pass: 'smtp-password' });
    assert.deepEqual(loaded.notify?.email?.developers, {});
    assert.deepEqual(loaded.notify?.retry, { firstDelayMs: 200, maxDelayMs: 3600_000, maxAttempts: 3 });
    assert.equal(loaded.notify?.timeoutMs, 10_000);
    assert.equal((await loadServiceConfig(await configFile(''), {})).notify, undefined, 'an empty file configures nothing');
  });

  it('a secret written in the file instead of a reference: the file, line and field', async () => {
    const path = await configFile('notify:\n  slack:\n    webhook: https://hooks.slack.com/services/T0/B0/secret\n');
    await assert.rejects(loadServiceConfig(path, env), failsWith('INVALID_FILE', new RegExp(`^${path}:3: notify\\.slack\\.webhook: must be a secret reference: env:VARIABLE or file:/absolute/path$`)));
  });

  it('a reference that does not resolve names the field and the reference, never a value', async () => {
    const path = await configFile('notify:\n  webhook: { url: "https://hooks.example.com/x", secret: env:AIBOX_TEST_UNSET }\n');
    await assert.rejects(loadServiceConfig(path, env), failsWith('MISSING_PREREQ', new RegExp(`^${path}: notify\\.webhook\\.secret: the environment variable AIBOX_TEST_UNSET \\(from env:AIBOX_TEST_UNSET\\) is not set$`)));
    const missing = await configFile('notify:\n  email: { smtp: "smtp://mail.example.com", username: u, password: "file:/nonexistent/pw", from: a@example.com }\n');
    await assert.rejects(loadServiceConfig(missing, env), failsWith('MISSING_PREREQ', /notify\.email\.password: cannot read \/nonexistent\/pw \(from file:\/nonexistent\/pw\): ENOENT/));
    const notUrl = await configFile('notify:\n  slack: { webhook: env:SMTP_PASSWORD }\n');
    await assert.rejects(loadServiceConfig(notUrl, env), (error: unknown) => failsWith('INVALID_FILE', /notify\.slack\.webhook: the value of env:SMTP_PASSWORD is not an http\(s\) URL/)(error) && !String(error).includes('smtp-password'));
  });

  it('a secret file others may read is refused, with the fix', async () => {
    const key = await secretFile('a-webhook-secret-of-some-length', 0o640);
    const path = await configFile(`notify:\n  webhook: { url: "https://hooks.example.com/x", secret: "file:${key}" }\n`);
    await assert.rejects(loadServiceConfig(path, env), (error: unknown) => failsWith('POLICY_DENIED', new RegExp(`notify\\.webhook\\.secret: ${key} is readable by group or others \\(mode 0640\\)`))(error) && error instanceof AiboxError && error.hint === `chmod 600 ${key}`);
    await chmod(key, 0o600);
    await writeFile(key, 'short');
    await assert.rejects(loadServiceConfig(path, env), failsWith('INVALID_FILE', /notify\.webhook\.secret: .* is shorter than 16 characters/));
  });

  it('refuses unknown keys, bad durations, URLs and addresses, half an SMTP login, a missing file', async () => {
    const cases: [string, RegExp][] = [
      ['notify:\n  sms: {}\n', /:2: notify: Unrecognized key: "sms"/],
      ['notify:\n  retry: { first_delay: 5 }\n', /notify\.retry\.first_delay: .*/],
      ['notify:\n  retry: { first_delay: 5 days }\n', /notify\.retry\.first_delay: must be a duration such as 200ms, 30s, 10m, 48h or 7d/],
      ['notify:\n  webhook: { url: "ftp://x.example.com", secret: env:X }\n', /notify\.webhook\.url: must be an http:\/\/ or https:\/\/ URL/],
      ['notify:\n  email: { smtp: "http://mail.example.com", from: a@example.com }\n', /notify\.email\.smtp: must be an smtp:\/\/ or smtps:\/\/ URL/],
      ['notify:\n  email: { smtp: "smtp://mail.example.com", from: a@example.com, approvers: [carol] }\n', /notify\.email\.approvers\.0: must be an email address/],
      ['notify:\n  email: { smtp: "smtp://mail.example.com", from: a@example.com, username: aibox }\n', /notify\.email\.password: username and password go together/],
      ['notify:\n  email: { smtp: "smtp://mail.example.com", from: a@example.com, developer_address: "dev@example.com" }\n', /notify\.email\.developer_address: must contain \{pusher\}/],
      ['public_url: aibox.example.com\n', /:1: public_url: must be an http:\/\/ or https:\/\/ URL/],
    ];
    for (const [text, pattern] of cases) await assert.rejects(loadServiceConfig(await configFile(text), env), failsWith('INVALID_FILE', pattern), text);
    await assert.rejects(loadServiceConfig('/nonexistent/approvals.yaml', env), failsWith('NOT_FOUND', /^--config: \/nonexistent\/approvals\.yaml does not exist$/));
  });
});
