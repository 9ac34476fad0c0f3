/**
 * The schema of the approval store, as numbered steps that both SQLite and
 * PostgreSQL run unchanged: TEXT, INTEGER, CHECK, ON CONFLICT and RETURNING
 * mean the same in both. Times are ISO-8601 UTC text (toISOString), whose text
 * order is time order; booleans are 0/1; push options are a JSON array.
 *
 * Never edit a step that has shipped: append a new one.
 */
export interface Migration {
  version: number;
  description: string;
  statements: readonly string[];
}

const STATES = `('pending', 'approved', 'promoting', 'promoted', 'needs-rebase', 'rejected', 'cancelled', 'expired', 'superseded')`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'push requests, their history, tokens',
    statements: [
      `CREATE TABLE push_requests (
        id TEXT PRIMARY KEY,
        repository TEXT NOT NULL,
        source_ref TEXT,
        target_ref TEXT NOT NULL,
        staging_ref TEXT NOT NULL UNIQUE,
        old_sha TEXT,
        new_sha TEXT,
        force_push INTEGER NOT NULL CHECK (force_push IN (0, 1)),
        push_options TEXT NOT NULL,
        commit_range TEXT,
        pusher TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ${STATES}),
        reason TEXT,
        superseded_by TEXT,
        decided_by TEXT
      )`,
      `CREATE INDEX push_requests_target ON push_requests (pusher, repository, target_ref, state)`,
      `CREATE INDEX push_requests_state ON push_requests (state, expires_at)`,
      `CREATE TABLE push_events (
        request_id TEXT NOT NULL REFERENCES push_requests (id),
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ${STATES}),
        actor TEXT NOT NULL,
        reason TEXT,
        PRIMARY KEY (request_id, seq)
      )`,
      `CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('developer', 'approver', 'service')),
        hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
      )`,
    ],
  },
  {
    version: 2,
    description: 'the git URL a request is promoted on',
    statements: ['ALTER TABLE push_requests ADD COLUMN url TEXT'],
  },
  {
    version: 3,
    description: 'token roles from the policy (approver becomes team-lead); tokens expire (older ones have)',
    statements: [
      'ALTER TABLE tokens RENAME TO tokens_v2',
      `CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (length(role) BETWEEN 1 AND 63),
        hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
      )`,
      // Tokens made before expiry existed are kept for the record but expired: create new ones.
      `INSERT INTO tokens (id, name, role, hash, created_at, expires_at)
        SELECT id, name, CASE role WHEN 'approver' THEN 'team-lead' ELSE role END, hash, created_at, created_at FROM tokens_v2`,
      'DROP TABLE tokens_v2',
    ],
  },
  {
    version: 4,
    description: 'the notification outbox and its delivery log',
    statements: [
      // One row per (event, channel). A replica sends a row only while it holds its lease (claimed_by until claimed_until).
      `CREATE TABLE notification_outbox (
        id TEXT PRIMARY KEY,
        request_id TEXT NOT NULL REFERENCES push_requests (id),
        kind TEXT NOT NULL CHECK (kind IN ${STATES}),
        channel TEXT NOT NULL CHECK (channel IN ('slack', 'webhook', 'email')),
        payload TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
        created_at TEXT NOT NULL,
        next_at TEXT NOT NULL,
        claimed_by TEXT,
        claimed_until TEXT
      )`,
      `CREATE INDEX notification_outbox_due ON notification_outbox (state, next_at)`,
      `CREATE INDEX notification_outbox_request ON notification_outbox (request_id)`,
      `CREATE TABLE notification_attempts (
        delivery_id TEXT NOT NULL REFERENCES notification_outbox (id),
        attempt INTEGER NOT NULL,
        at TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('sent', 'retry', 'failed')),
        status INTEGER,
        detail TEXT NOT NULL,
        PRIMARY KEY (delivery_id, attempt)
      )`,
    ],
  },
];

export const SCHEMA_VERSION_TABLE = `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)`;
