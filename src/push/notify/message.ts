import type { PushRequest } from '../store/index.js';
import type { EventKind, PushEvent } from './event.js';

/**
 * What every channel says about an event, as plain text: the title, the
 * facts of the request, the outcome for the developer, and the link to the
 * request's dashboard page. Channels escape and lay it out their own way.
 */
export const TITLES: Record<EventKind, string> = {
  pending: 'Push waiting for approval',
  promoted: 'Push promoted',
  'needs-rebase': 'Push needs a rebase',
  rejected: 'Push rejected',
  expired: 'Push expired',
  cancelled: 'Push cancelled',
  superseded: 'Push superseded',
};

export function requestLink(baseUrl: string, id: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/dashboard/requests/${encodeURIComponent(id)}`;
}

export function commitsOf(request: PushRequest): string {
  const short = (sha: string) => sha.slice(0, 12);
  if (request.newSha === null) return `deletes ${request.oldSha ? short(request.oldSha) : 'the ref'}`;
  if (request.oldSha === null) return `creates at ${short(request.newSha)}`;
  return `${short(request.oldSha)}..${short(request.newSha)}${request.force ? ' (forced)' : ''}`;
}

export function factsOf(request: PushRequest): [string, string][] {
  return [
    ['Repository', request.repository],
    ['Target', request.targetRef],
    ['Pusher', request.pusher],
    ['Commits', commitsOf(request)],
  ];
}

/** For the developer: what became of the push, and why. Undefined for a new request. */
export function outcomeOf(event: PushEvent): string | undefined {
  const { request } = event;
  const by = request.decidedBy ? ` by ${request.decidedBy}` : '';
  const why = request.reason ? `: ${request.reason}` : '';
  switch (event.kind) {
    case 'pending':
      return undefined;
    case 'promoted':
      return `Promoted${by}: ${request.targetRef} now has the pushed commit.`;
    case 'rejected':
      return `Rejected${by}${why}`;
    case 'needs-rebase':
      return `Approved${by}, but not promoted${why}`;
    case 'superseded':
      return `Superseded${request.supersededBy ? ` by request ${request.supersededBy}` : ''}: a newer push to the same target replaces it.`;
    default:
      return `${event.kind === 'expired' ? 'Expired' : 'Cancelled'}${why}`;
  }
}

/** One line (ASCII but for user text, for mail subjects): what happened to whose push of what. */
export function summaryOf(event: PushEvent): string {
  const { request } = event;
  return `${TITLES[event.kind]}: ${request.targetRef} of ${request.repository} by ${request.pusher} (request ${request.id})`;
}

/** The request as receivers see it: without the git URL, which may carry credentials. */
export function publicRequest(request: PushRequest): Omit<PushRequest, 'url'> {
  const { url: _url, ...rest } = request;
  return rest;
}
