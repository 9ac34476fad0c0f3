import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AiboxError } from '../../src/core/errors.js';
import { openApprovalStore } from '../../src/push/store/index.js';
import { openPostgresStore } from '../../src/push/store/postgres.js';
import { startPostgres, tableText, type PostgresServer } from '../helpers/push-store-postgres.js';
import { describeOutbox } from '../helpers/push-outbox-suite.js';
import { describeApprovalStore, pushRequest, type StoreBackend } from '../helpers/push-store-suite.js';
import { MIGRATIONS } from '../../src/push/store/migrations.js';

// The same suite as the SQLite store's unit test, against a real PostgreSQL server.
let server: PostgresServer | undefined;

function running(): PostgresServer {
  if (!server) throw new Error('PostgreSQL did not start');
  return server;
}

before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

const postgres: StoreBackend = {
  name: 'PostgreSQL',
  async fresh() {
    const url = await running().createDatabase();
    return {
      open: (now) => openPostgresStore(url, { now }),
      dumpTokens: () => tableText(url, 'tokens'),
    };
  },
};
describeApprovalStore(postgres);
describeOutbox(postgres);

describe('the PostgreSQL approval store', () => {
  it('two replicas superseding for the same target at once leave one pending request', async () => {
    const url = await running().createDatabase();
    const [one, two] = [await openPostgresStore(url), await openPostgresStore(url)];
    try {
      await one.migrate();
      const at = (n: number) => new Date(Date.UTC(2026, 2, 1, 10, 0, n)).toISOString();
      await Promise.all(Array.from({ length: 10 }, (_, n) => (n % 2 ? one : two).createRequest(pushRequest(`req-${n}`, { createdAt: at(n) }))));
      const pending = await one.list({ state: 'pending' });
      assert.deepEqual(pending.map((request) => request.id), ['req-9']);
      const superseded = await two.list({ state: 'superseded' });
      assert.equal(superseded.length, 9);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('openApprovalStore opens PostgreSQL for a postgres:// URL', async () => {
    const url = await running().createDatabase();
    const store = await openApprovalStore(url);
    try {
      assert.equal(await store.migrate(), MIGRATIONS.length);
      assert.equal(await tableText(url, 'schema_version').then((text) => text.startsWith('(1,')), true);
    } finally {
      await store.close();
    }
  });

  it('names the server, without the password, when it cannot connect', async () => {
    await assert.rejects(openPostgresStore('postgres://aibox:hunter2@127.0.0.1:1/approvals'), (error: unknown) => {
      assert.ok(error instanceof AiboxError);
      assert.equal(error.code, 'MISSING_PREREQ');
      assert.match(error.message, /cannot connect to the approval database postgres:\/\/aibox:\*\*\*@127\.0\.0\.1:1\/approvals/);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    });
  });
});
