import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openApprovalStore } from '../../src/push/store/index.js';
import { openSqliteStore } from '../../src/push/store/sqlite.js';
import { describeOutbox } from '../helpers/push-outbox-suite.js';
import { describeApprovalStore, pushRequest, type StoreBackend } from '../helpers/push-store-suite.js';
import { MIGRATIONS } from '../../src/push/store/migrations.js';

async function sqliteFile(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'aibox-push-store-')), 'approvals.db');
}

/** The database as SQLite keeps it on disk: the main file and the write-ahead log. */
async function rawBytes(path: string): Promise<string> {
  const parts = await Promise.all([path, `${path}-wal`].map((file) => readFile(file).catch(() => Buffer.alloc(0))));
  return Buffer.concat(parts).toString('latin1');
}

const sqlite: StoreBackend = {
  name: 'SQLite',
  async fresh() {
    const path = await sqliteFile();
    return {
      open: (now) => openSqliteStore(path, { now }),
      dumpTokens: () => rawBytes(path),
    };
  },
};
describeApprovalStore(sqlite);
describeOutbox(sqlite);

describe('the SQLite approval store file', () => {
  it('is private to its owner and in WAL mode', async () => {
    const path = await sqliteFile();
    const store = await openSqliteStore(path);
    await store.migrate();
    await store.createRequest(pushRequest('req-1'));
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(`${path}-wal`)).mode & 0o777, 0o600);
    await store.close();
  });

  it('says which file it cannot open', async () => {
    await assert.rejects(openSqliteStore('/nonexistent-dir/approvals.db'), /cannot open the approval database \/nonexistent-dir\/approvals\.db/);
  });
});

describe('openApprovalStore', () => {
  it('opens a SQLite file for a path', async () => {
    const path = await sqliteFile();
    const store = await openApprovalStore(path);
    assert.equal(await store.migrate(), MIGRATIONS.length);
    await store.close();
    assert.ok((await stat(path)).size > 0);
  });
});

describe('migration 3', () => {
  it('keeps tokens of an older database for the record, approver as team-lead, but expired', async () => {
    const path = await sqliteFile();
    const { createRequire } = await import('node:module');
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
    const { SCHEMA_VERSION_TABLE } = await import('../../src/push/store/migrations.js');
    const { hashSecret, newSecret } = await import('../../src/push/store/tokens.js');
    const secret = newSecret();
    const old = new Database(path);
    old.exec(SCHEMA_VERSION_TABLE);
    for (const migration of MIGRATIONS.slice(0, 2)) {
      for (const statement of migration.statements) old.exec(statement);
      old.prepare('INSERT INTO schema_version VALUES (?, ?, ?)').run(migration.version, migration.description, '2026-01-01T00:00:00.000Z');
    }
    old.prepare('INSERT INTO tokens VALUES (?, ?, ?, ?, ?)').run('0123456789abcdef', 'carol', 'approver', hashSecret(secret), '2026-01-01T00:00:00.000Z');
    old.close();

    const store = await openSqliteStore(path);
    assert.equal(await store.migrate(), MIGRATIONS.length);
    assert.deepEqual(await store.verifyToken(secret), { expiredAt: '2026-01-01T00:00:00.000Z' });
    const roles = new Database(path, { readonly: true }).prepare('SELECT role FROM tokens').all();
    assert.deepEqual(roles, [{ role: 'team-lead' }]);
    await store.close();
  });
});
