import { isDeepStrictEqual } from 'node:util';
import { AiboxError } from '../core/errors.js';
import type { McpServers } from './canonical.js';
import { containerOf, entriesOf, isEmptyContainer, withoutEntries, type Format } from './formats/format.js';
import { launchFor, type Capabilities, type Launch } from './launch.js';
import { hashEntry, type OwnedState } from './owned.js';

/**
 * One agent's adapter: renders the canonical servers into that agent's
 * entries and applies them to its file with the ownership rules below. Pure:
 * text in, text out, no I/O.
 *
 * - An entry aibox did not write (no record in `owned`) is the user's: never
 *   overwritten, never removed; a desired server of the same name is reported.
 * - An entry aibox wrote but whose value no longer has the recorded hash was
 *   changed by the user: left alone and reported.
 * - An entry aibox owns that is missing (the agent rewrote its file) is written again.
 * - Applying the same servers twice gives the same bytes; removing all of
 *   aibox's entries removes the container or file aibox created.
 * - After editing, the result is parsed again and must equal the original
 *   except for aibox's entries; otherwise nothing is written.
 */

export type EntryStatus = 'added' | 'updated' | 'unchanged' | 'removed' | 'conflict' | 'changed-by-you' | 'left-out';

export interface EntryReport {
  name: string;
  status: EntryStatus;
  message?: string;
}

export type ApplyResult =
  | { ok: true; text: string | undefined; owned: OwnedState; entries: EntryReport[] }
  | { ok: false; error: AiboxError };

export interface Adapter {
  apply(currentText: string | undefined, owned: OwnedState, desired: McpServers, file: string): ApplyResult;
}

/** Edits planned from the file, the ownership record and the desired entries. */
interface Plan {
  set: Map<string, unknown>;
  remove: Set<string>;
  owned: Record<string, string>;
  reports: EntryReport[];
}

function plan(file: string, key: string, present: Map<string, unknown>, owned: OwnedState, desired: Map<string, unknown>): Plan {
  const result: Plan = { set: new Map(), remove: new Set(), owned: {}, reports: [] };
  for (const [name, value] of desired) {
    const recorded = owned.entries[name];
    const want = hashEntry(value);
    const have = present.has(name) ? hashEntry(present.get(name)) : undefined;
    if (have === undefined) {
      result.set.set(name, value);
      result.owned[name] = want;
      result.reports.push({ name, status: 'added' });
    } else if (recorded === undefined) {
      result.reports.push({ name, status: 'conflict', message: `${file}: "${name}" in ${key} is yours, so aibox did not add its own; rename or remove yours to get aibox's` });
    } else if (have === want) {
      result.owned[name] = want;
      result.reports.push({ name, status: 'unchanged' });
    } else if (have === recorded) {
      result.set.set(name, value);
      result.owned[name] = want;
      result.reports.push({ name, status: 'updated' });
    } else {
      result.owned[name] = recorded;
      result.reports.push({ name, status: 'changed-by-you', message: `${file}: "${name}" was changed by you, left alone; remove it to get aibox's version back` });
    }
  }
  for (const [name, recorded] of Object.entries(owned.entries)) {
    if (desired.has(name) || !present.has(name)) continue;
    if (hashEntry(present.get(name)) === recorded) {
      result.remove.add(name);
      result.reports.push({ name, status: 'removed' });
    } else {
      result.reports.push({ name, status: 'changed-by-you', message: `${file}: "${name}" was changed by you, so aibox left it in place (it is yours now)` });
    }
  }
  return result;
}

/** The document after the edits must equal the one before except for the entries aibox touched. */
function verify(format: Format, before: unknown, text: string, edits: Plan, file: string): AiboxError | undefined {
  const after = format.read(text, file);
  const touched = new Set([...edits.set.keys(), ...edits.remove]);
  const entries = after instanceof AiboxError ? new Map() : entriesOf(after.data, format.container);
  const same =
    !(after instanceof AiboxError) &&
    isDeepStrictEqual(withoutEntries(before, format.container, touched), withoutEntries(after.data, format.container, touched)) &&
    [...edits.set].every(([name, value]) => isDeepStrictEqual(entries.get(name), value)) &&
    [...edits.remove].every((name) => !entries.has(name));
  if (same) return undefined;
  return new AiboxError('CONFLICT', `${file}: aibox could not edit this file without touching your content, so it left it unchanged`, `move aibox's servers out of ${file} by hand, or report this with a copy of the file`);
}

/** Applies the planned edits; an entry that cannot be edited becomes a conflict, the others go on. */
function edit(format: Format, text: string, edits: Plan, owned: OwnedState, file: string): string {
  const attempt = (name: string, change: (current: string) => string) => {
    try {
      text = change(text);
    } catch (error) {
      if (!(error instanceof AiboxError)) throw error;
      edits.set.delete(name);
      edits.remove.delete(name);
      const recorded = owned.entries[name];
      if (recorded === undefined) delete edits.owned[name];
      else edits.owned[name] = recorded;
      edits.reports = edits.reports.map((report) => (report.name === name ? { name, status: 'conflict', message: error.message } : report));
    }
  };
  for (const [name, value] of edits.set) attempt(name, (current) => format.set(current, name, value, file));
  for (const name of edits.remove) attempt(name, (current) => format.remove(current, name, file));
  return text;
}

export function applyEntries(format: Format, currentText: string | undefined, owned: OwnedState, desired: Map<string, unknown>, file: string): ApplyResult {
  const original = currentText ?? '';
  const first = format.read(original, file);
  if (first instanceof AiboxError) return { ok: false, error: first };
  const edits = plan(file, format.container.key, entriesOf(first.data, format.container), owned, desired);
  let text = edit(format, original, edits, owned, file);
  const adding = edits.set.size > 0;
  const createdContainer = owned.createdContainer || (adding && containerOf(first.data, format.container) === undefined);
  const createdFile = owned.createdFile || (adding && currentText === undefined);
  const ownsSome = Object.keys(edits.owned).length > 0;
  if (!ownsSome && createdContainer) {
    const now = format.read(text, file);
    if (!(now instanceof AiboxError) && isEmptyContainer(containerOf(now.data, format.container))) text = format.dropContainer(text, file);
  }
  const gone = !ownsSome && createdFile && format.isEmpty(text);
  const result = gone ? undefined : text === original ? currentText : text;
  if (result !== currentText) {
    const problem = verify(format, first.data, result ?? '', edits, file);
    if (problem) return { ok: false, error: problem };
  }
  const state: OwnedState = { entries: edits.owned, ...(ownsSome && createdContainer ? { createdContainer } : {}), ...(ownsSome && createdFile ? { createdFile } : {}) };
  return { ok: true, text: result, owned: state, entries: edits.reports };
}

/** An adapter from a file format, what the agent can express, and how it spells one entry. */
export function makeAdapter(format: Format, caps: Capabilities, entry: (name: string, launch: Launch) => unknown): Adapter {
  return {
    apply(currentText, owned, desired, file) {
      const entries = new Map<string, unknown>();
      const leftOut: EntryReport[] = [];
      for (const [name, server] of Object.entries(desired)) {
        const launch = launchFor(name, server, caps);
        if ('leftOut' in launch) leftOut.push({ name, status: 'left-out', message: `${file}: "${name}" left out: ${launch.leftOut}` });
        else entries.set(name, entry(name, launch));
      }
      const result = applyEntries(format, currentText, owned, entries, file);
      return result.ok ? { ...result, entries: [...result.entries, ...leftOut] } : result;
    },
  };
}
