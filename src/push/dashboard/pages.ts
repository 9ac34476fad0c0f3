import type { PushRequest } from '../store/index.js';
import { html, notice, page, relative, type SafeHtml, type Viewer } from './html.js';

/** The login page, the list of requests and the error page (the request page has its own file). */

export function loginPage(csrf: string, error?: string): string {
  return page(
    'Log in',
    undefined,
    html`${error ? notice('error', error) : ''}
<form method="post" action="/dashboard/login" class="card">
  <input type="hidden" name="csrf" value="${csrf}">
  <label for="token">API token</label>
  <input id="token" name="token" type="password" autocomplete="off" required spellcheck="false">
  <p class="hint">The secret of your <code>aibox approvals token create</code> token. It is checked once: your browser keeps a 12-hour session, never the token.</p>
  <button type="submit">Log in</button>
</form>`,
  );
}

export function requestLink(request: PushRequest): SafeHtml {
  return html`<a href="/dashboard/requests/${encodeURIComponent(request.id)}"><code>${request.id}</code></a>`;
}

/** "refs/heads/main" reads as "main" (tags and others keep their prefix). */
export function refLabel(ref: string): string {
  return ref.replace(/^refs\/heads\//, '');
}

export function listPage(viewer: Viewer, requests: readonly PushRequest[], now: Date, showAll: boolean): string {
  const intro = viewer.role === 'developer' ? 'Your own pushes; an approver decides them.' : 'Every push waiting for a decision. Open one to read its commits and diff.';
  const rows = requests.map(
    (request) => html`<tr>
  <td>${requestLink(request)}</td>
  <td>${request.repository}</td>
  <td><code>${refLabel(request.targetRef)}</code>${request.newSha === null ? html` <span class="tag">delete</span>` : ''}</td>
  <td>${request.pusher}</td>
  ${showAll ? html`<td><span class="state ${request.state}">${request.state}</span></td>` : ''}
  <td>${relative(request.createdAt, now)}</td>
  <td>${request.state === 'pending' ? relative(request.expiresAt, now) : '—'}</td>
</tr>`,
  );
  const table = requests.length
    ? html`<table>
<thead><tr><th scope="col">Request</th><th scope="col">Repository</th><th scope="col">Target</th><th scope="col">Pusher</th>${showAll ? html`<th scope="col">State</th>` : ''}<th scope="col">Age</th><th scope="col">Expires</th></tr></thead>
<tbody>${rows}</tbody>
</table>`
    : html`<p class="empty">${showAll ? 'No requests yet.' : 'Nothing is waiting for a decision.'}</p>`;
  const filter = showAll ? html`<a href="/dashboard/">Pending only</a>` : html`<a href="/dashboard/?all=1">All requests</a>`;
  return page(showAll ? 'All requests' : 'Pending requests', viewer, html`<p>${intro} ${filter}</p>\n${table}`);
}

export function errorPage(viewer: Viewer | undefined, title: string, message: string): string {
  return page(title, viewer, html`${notice('error', message)}<p><a href="/dashboard/">Back to the requests</a></p>`);
}
