import type Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { closeSync, openSync } from 'node:fs';
import { AiboxError } from '../../core/errors.js';
import { SqlApprovalStore, type SqlDriver, type SqlTx, type SqlValue, type TransactionOptions } from './sql-store.js';
import type { ApprovalStore, StoreOptions } from './store.js';

/** How long a write waits for another process holding the database (a second service on the same file). */
const BUSY_TIMEOUT_MS = 5000;

/**
 * The embedded default: one SQLite file, in WAL mode (readers never wait for
 * the writer). better-sqlite3 is synchronous, so transactions of this process
 * are queued here: two requests of an HTTP server never interleave inside one.
 */
export async function openSqliteStore(path: string, options: StoreOptions = {}): Promise<ApprovalStore> {
  const Driver = loadBetterSqlite3();
  let db: Database.Database;
  try {
    // Created 0600 by us: SQLite gives its -wal and -shm files the same mode.
    if (path !== ':memory:') closeSync(openSync(path, 'a', 0o600));
    db = new Driver(path, { timeout: BUSY_TIMEOUT_MS });
    db.pragma('journal_mode = WAL');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('foreign_keys = ON');
    // An approval the service answered must survive a power cut.
    db.pragma('synchronous = FULL');
  } catch (error) {
    throw new AiboxError('INVALID_FILE', `cannot open the approval database ${path}: ${error instanceof Error ? error.message : String(error)}`, 'check the path and its permissions', { cause: error });
  }
  return new SqlApprovalStore(new SqliteDriver(db, path), path, options);
}

class SqliteDriver implements SqlDriver {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly statements = new Map<string, Database.Statement<SqlValue[]>>();
  private readonly tx: SqlTx = { query: async (sql, params = []) => this.query(sql, params) };

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {}

  transaction<T>(fn: (tx: SqlTx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const run = async (): Promise<T> => {
      if (options.readOnly) this.exec('BEGIN');
      else await this.beginImmediate();
      try {
        const result = await fn(this.tx);
        this.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    await this.queue;
    this.db.close();
  }

  /**
   * IMMEDIATE takes the write lock at BEGIN: a compare-and-set never reads a
   * state another connection is about to change. While another connection
   * holds it, wait here without blocking the event loop (SQLite's own busy
   * wait would: a second connection in this process could then never commit).
   */
  private async beginImmediate(): Promise<void> {
    const deadline = Date.now() + BUSY_TIMEOUT_MS;
    for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
      this.db.pragma('busy_timeout = 0');
      try {
        this.db.exec('BEGIN IMMEDIATE');
        return;
      } catch (error) {
        if (!(isBusy(error) && Date.now() < deadline)) this.translate(() => { throw error; });
      } finally {
        this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  private query(sql: string, params: readonly SqlValue[]): unknown[] {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.translate(() => this.db.prepare<SqlValue[]>(sql));
      this.statements.set(sql, statement);
    }
    const prepared = statement;
    if (prepared.reader) return this.translate(() => prepared.all(...params));
    this.translate(() => prepared.run(...params));
    return [];
  }

  private exec(sql: string): void {
    this.translate(() => this.db.exec(sql));
  }

  private translate<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (isBusy(error)) {
        throw new AiboxError('CONFLICT', `the approval database ${this.path} stayed locked by another process for ${BUSY_TIMEOUT_MS / 1000} s`, 'is another aibox approvals service using the same file?', { cause: error });
      }
      throw error;
    }
  }
}

function isBusy(error: unknown): boolean {
  return error instanceof loadBetterSqlite3().SqliteError && error.code.startsWith('SQLITE_BUSY');
}

/**
 * better-sqlite3 is a native module: it cannot go into the one-file bundle, so it is
 * loaded from node_modules at run time, and only where the approval service runs (the
 * host). A call through createRequire is left alone by the bundler.
 */
function loadBetterSqlite3(): typeof Database {
  return createRequire(import.meta.url)('better-sqlite3') as typeof Database;
}
