import pg from 'pg';
import { AiboxError } from '../../core/errors.js';
import { SqlApprovalStore, type SqlDriver, type SqlTx, type TransactionOptions } from './sql-store.js';
import type { ApprovalStore, StoreOptions } from './store.js';

/** Enough for a service's concurrent requests; several replicas each have their own pool. */
const POOL_SIZE = 10;
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The store for an organisation running several service replicas: every
 * replica opens its own pool on the same database. Compare-and-set is one
 * UPDATE (row locks, READ COMMITTED re-checks the state after waiting); what
 * must not run twice at once (migrations, superseding for one target, expiry)
 * takes a transaction-scoped advisory lock.
 */
export async function openPostgresStore(connectionString: string, options: StoreOptions = {}): Promise<ApprovalStore> {
  const where = withoutPassword(connectionString);
  const pool = new pg.Pool({ connectionString, max: POOL_SIZE, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An idle connection the server closed: the pool drops it and opens another on next use.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end();
    throw new AiboxError('MISSING_PREREQ', `cannot connect to the approval database ${where}: ${error instanceof Error ? error.message : String(error)}`, 'check that PostgreSQL runs there and the URL, user and password are right', {
      cause: error,
    });
  }
  return new SqlApprovalStore(new PostgresDriver(pool), where, options);
}

class PostgresDriver implements SqlDriver {
  constructor(private readonly pool: pg.Pool) {}

  async transaction<T>(fn: (tx: SqlTx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      // Read-only work sees one snapshot: a request and its history always agree.
      await client.query(options.readOnly ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
      if (options.lockKey) await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [options.lockKey]);
      const result = await fn({ query: async (sql, params = []) => (await client.query(numbered(sql), [...params])).rows });
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** `?` → `$1, $2, …`: the store's SQL never has a `?` inside a literal. */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function withoutPassword(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'postgres (unparsable connection string)';
  }
}
