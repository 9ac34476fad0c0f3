import { mkdir } from 'node:fs/promises';
import type { PageHandler } from '../service/http.js';
import type { ReviewGit } from '../service/review-git.js';
import type { ServiceDeps } from '../service/requests.js';
import { dashboardHandler } from './routes.js';
import { loadSessionKey } from './session.js';

/**
 * The approval service's web dashboard: log in with an API token, list the
 * pending pushes, read one's commits and diff, approve or reject it. Served by
 * the service itself under /dashboard/ (push/service/http.ts routes it here);
 * plain HTML forms, no script.
 */

export interface DashboardOptions {
  service: ServiceDeps;
  review: ReviewGit;
  /** The service's own folder: the session key lives there (dashboard.key). */
  workDir: string;
  /** The URL people open, when the service is behind a proxy (https there makes the cookies Secure). */
  publicUrl?: string;
}

export async function createDashboard(options: DashboardOptions): Promise<PageHandler> {
  await mkdir(options.workDir, { recursive: true, mode: 0o700 });
  const key = await loadSessionKey(options.workDir);
  return dashboardHandler({ service: options.service, review: options.review, key, ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}) });
}
