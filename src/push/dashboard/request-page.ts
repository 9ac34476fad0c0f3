import type { PushRequest } from '../store/index.js';
import type { Changes } from './changes.js';
import { MAX_COMMITS, MAX_DIFF_BYTES } from './changes.js';
import { html, notice, page, relative, type SafeHtml, type Viewer } from './html.js';
import { refLabel } from './pages.js';

/** One request: its fields, the outcome so far, the decision forms (approvers only), its commits, diff and history. */

export interface RequestView {
  viewer: Viewer;
  request: PushRequest;
  changes: Changes;
  now: Date;
  /** The viewer may approve or reject it (an approver role the policy names for it, not its pusher, the request still open). */
  canDecide: boolean;
  /** Why an approver may not, when that is worth saying. */
  whyNot?: string;
}

export function requestPage(view: RequestView): string {
  const { request } = view;
  return page(
    `Push to ${refLabel(request.targetRef)}`,
    view.viewer,
    html`${outcome(request)}
${fields(request, view.now)}
${decision(view)}
${changes(request, view.changes)}
<section aria-labelledby="history"><h2 id="history">History</h2>
<table><thead><tr><th scope="col">When</th><th scope="col">State</th><th scope="col">By</th><th scope="col">Reason</th></tr></thead>
<tbody>${request.history.map((event) => html`<tr><td>${relative(event.at, view.now)}</td><td><span class="state ${event.state}">${event.state}</span></td><td>${event.actor}</td><td>${event.reason ?? ''}</td></tr>`)}</tbody></table>
</section>`,
  );
}

/** Where the request stands once something happened to it, in words. */
function outcome(request: PushRequest): SafeHtml | '' {
  const target = request.targetRef;
  switch (request.state) {
    case 'promoted':
      return notice('ok', request.newSha ? `Approved and promoted: ${target} is now ${request.newSha}.` : `Approved and promoted: ${target} is deleted.`);
    case 'needs-rebase':
      return notice('warn', `Approved, but it needs a rebase: ${request.reason ?? 'the target moved'}`);
    case 'rejected':
      return notice('ok', `Rejected by ${request.decidedBy ?? 'an approver'}: ${request.reason ?? ''}`);
    case 'approved':
      return notice('warn', `Approved, not promoted yet${request.reason ? `: ${request.reason}` : ''}. Approve again to retry.`);
    case 'pending':
    case 'promoting':
      return '';
    default:
      return notice('warn', `This request is ${request.state}${request.reason ? `: ${request.reason}` : '.'}`);
  }
}

function fields(request: PushRequest, now: Date): SafeHtml {
  const row = (label: string, value: SafeHtml | string | undefined) => (value === undefined ? '' : html`<dt>${label}</dt><dd>${value}</dd>`);
  return html`<dl class="fields">
${row('Request', html`<code>${request.id}</code>`)}
${row('State', html`<span class="state ${request.state}">${request.state}</span>`)}
${row('Repository', request.repository)}
${row('Target', html`<code>${request.targetRef}</code>${request.force ? html` <span class="tag">force</span>` : ''}`)}
${row('Change', html`<code>${request.oldSha ?? '(new)'}</code> → <code>${request.newSha ?? '(deleted)'}</code>`)}
${row('Staging ref', html`<code>${request.stagingRef}</code>`)}
${row('Pusher', request.pusher)}
${row('Pushed', relative(request.createdAt, now))}
${row('Expires', request.state === 'pending' ? relative(request.expiresAt, now) : undefined)}
${row('Decided by', request.decidedBy)}
${row('Push options', request.pushOptions.length ? html`${request.pushOptions.map((option) => html`<code>${option}</code> `)}` : undefined)}
</dl>`;
}

function decision(view: RequestView): SafeHtml | '' {
  const { request, viewer } = view;
  if (!view.canDecide) return view.whyNot ? html`<p class="hint">${view.whyNot}</p>` : '';
  const action = (verb: string) => `/dashboard/requests/${encodeURIComponent(request.id)}/${verb}`;
  const reject =
    request.state === 'pending'
      ? html`<form method="post" action="${action('reject')}" class="card">
  <input type="hidden" name="csrf" value="${viewer.csrf}">
  <label for="reason">Reason for rejecting</label>
  <textarea id="reason" name="reason" rows="3" maxlength="4000" required></textarea>
  <button type="submit" class="danger">Reject</button>
</form>`
      : '';
  return html`<section aria-labelledby="decide"><h2 id="decide">Decide</h2>
<form method="post" action="${action('approve')}" class="card">
  <input type="hidden" name="csrf" value="${viewer.csrf}">
  <p>Approving moves <code>${request.targetRef}</code> to the staged commit, if it is still at <code>${request.oldSha ?? '(no ref)'}</code>.</p>
  <button type="submit">Approve and promote</button>
</form>
${reject}
</section>`;
}

function changes(request: PushRequest, view: Changes): SafeHtml {
  const title = view.kind === 'delete' ? `Deletes ${request.targetRef}; the commit it points at` : view.kind === 'create' ? 'New ref: the staged commit' : 'Commits';
  return html`<section aria-labelledby="commits"><h2 id="commits">${title}</h2>
${view.note ? notice('warn', view.note) : ''}
${view.moreCommits ? notice('warn', `More than ${MAX_COMMITS} commits: only the newest ${MAX_COMMITS} are listed.`) : ''}
<ol class="commits">${view.commits.map(
    (commit) => html`<li><p class="meta"><code>${commit.sha}</code> · ${commit.author} · <time datetime="${commit.date}">${commit.date}</time></p><pre class="message">${commit.message}</pre></li>`,
  )}</ol>
</section>
${view.diff ? diff(view.diff) : ''}`;
}

const LINE_CLASSES: [RegExp, string][] = [
  [/^diff --git /, 'file'],
  [/^(\+\+\+|---) /, 'path'],
  [/^@@/, 'hunk'],
  [/^\+/, 'add'],
  [/^-/, 'del'],
];

function diff(view: { text: string; truncated: boolean }): SafeHtml {
  const lines = view.text.split('\n').map((line) => {
    const kind = LINE_CLASSES.find(([pattern]) => pattern.test(line))?.[1];
    return kind ? html`<span class="${kind}">${line}</span>\n` : html`${line}\n`;
  });
  return html`<section aria-labelledby="diff"><h2 id="diff">Diff</h2>
${view.text === '' ? html`<p class="empty">No changes to files.</p>` : html`<pre class="diff" tabindex="0" aria-label="Diff"><code>${lines}</code></pre>`}
${view.truncated ? notice('warn', `The diff is longer than ${MAX_DIFF_BYTES / 1024} KB: cut there. Fetch the staging ref to read all of it.`) : ''}
</section>`;
}
