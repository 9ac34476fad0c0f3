/**
 * HTML built safely: the `html` tag escapes every value it is given unless the
 * value is already SafeHtml (made by this tag), so commit messages, diffs,
 * reasons and names (all attacker-controlled) can only ever become text.
 * Templates quote every attribute, so escaping quotes keeps values inside them.
 */

export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type HtmlValue = string | number | SafeHtml | undefined | null | false | readonly HtmlValue[];

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ENTITIES[char] ?? char);
}

function render(value: HtmlValue): string {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  return new SafeHtml(strings.reduce((out, text, index) => out + text + (index < values.length ? render(values[index]) : ''), ''));
}

/** Who is logged in, as the page header shows it, with what the logout form needs. */
export interface Viewer {
  name: string;
  role: string;
  csrf: string;
}

export const STYLE_PATH = '/dashboard/style.css';
export const ICON_PATH = '/dashboard/icon.svg';

/** The page shell: one stylesheet, no script at all. */
export function page(title: string, viewer: Viewer | undefined, body: SafeHtml): string {
  const header = viewer
    ? html`<nav aria-label="Account">
        <a href="/dashboard/">Pending requests</a>
        <span class="who">${viewer.name} (${viewer.role})</span>
        <form method="post" action="/dashboard/logout" class="inline">
          <input type="hidden" name="csrf" value="${viewer.csrf}">
          <button type="submit" class="link">Log out</button>
        </form>
      </nav>`
    : '';
  return `<!doctype html>\n${html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · aibox approvals</title>
<link rel="stylesheet" href="${STYLE_PATH}">
<link rel="icon" href="${ICON_PATH}" type="image/svg+xml">
</head>
<body>
<header><span class="brand">aibox approvals</span>${header}</header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`}\n`;
}

/** A notice on top of a page: role="status" for outcomes, role="alert" for errors. */
export function notice(kind: 'ok' | 'warn' | 'error', text: string): SafeHtml {
  return html`<p class="notice ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</p>`;
}

/** "3 min ago", "in 47 h": what a person reads in a table; the exact time goes in the title. */
export function relative(at: string, now: Date): SafeHtml {
  const ms = new Date(at).getTime() - now.getTime();
  const minutes = Math.round(Math.abs(ms) / 60_000);
  const span = minutes < 1 ? 'less than a minute' : minutes < 120 ? `${minutes} min` : minutes < 48 * 60 ? `${Math.round(minutes / 60)} h` : `${Math.round(minutes / 1440)} days`;
  return html`<time datetime="${at}" title="${at}">${ms < 0 ? `${span} ago` : `in ${span}`}</time>`;
}
