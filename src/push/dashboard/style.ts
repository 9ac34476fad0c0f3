/**
 * The dashboard's stylesheet and icon, served as /dashboard/style.css and
 * /dashboard/icon.svg (the CSP allows styles and images from the service itself
 * only; the bundle is one file, so they live here as text). Plain, readable,
 * dark mode from the system.
 */

/** A check mark in a rounded square (without it, browsers ask the API for /favicon.ico). */
export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f5fbf"/><path d="M4 8.5l2.5 2.5L12 5.5" stroke="#fff" stroke-width="2" fill="none"/></svg>`;

export const STYLE_CSS = `:root { color-scheme: light dark; --fg: #1d2330; --muted: #5b6475; --bg: #fff; --card: #f5f7fa; --line: #d8dde6;
  --accent: #1f5fbf; --ok: #136c2e; --warn: #8a5a00; --bad: #b3261e; --add: #e6f6ea; --del: #fdecea; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ef; --muted: #a3abb9; --bg: #14171c; --card: #1d2128; --line: #333a45;
  --accent: #79a7ff; --ok: #6fd08c; --warn: #f0b44c; --bad: #ff8a80; --add: #16331f; --del: #3d1a18; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; justify-content: space-between; padding: .75rem 1.5rem; border-bottom: 1px solid var(--line); }
header nav { display: flex; gap: 1rem; align-items: center; }
.brand { font-weight: 600; }
.who { color: var(--muted); }
main { max-width: 72rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, textarea:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 1rem; margin: 0 0 1rem; max-width: 40rem; }
form.inline { display: inline; }
.card p { margin-top: 0; }
label { display: block; font-weight: 600; margin-bottom: .25rem; }
input[type=password], textarea { width: 100%; padding: .5rem; font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; }
button { font: inherit; padding: .45rem 1rem; margin-top: .5rem; border: 0; border-radius: 4px; background: var(--accent); color: var(--bg); cursor: pointer; }
button.danger { background: var(--bad); }
button.link { background: none; color: var(--accent); padding: 0; margin: 0; text-decoration: underline; }
.hint, .empty { color: var(--muted); }
.notice { padding: .6rem .9rem; border-radius: 4px; border-left: 4px solid; background: var(--card); }
.notice.ok { border-color: var(--ok); } .notice.warn { border-color: var(--warn); } .notice.error { border-color: var(--bad); }
.state, .tag { font-size: .85em; padding: 0 .4rem; border-radius: 3px; border: 1px solid var(--line); white-space: nowrap; }
.state.promoted { color: var(--ok); } .state.rejected, .state.needs-rebase { color: var(--bad); } .state.pending { color: var(--warn); }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.fields dt { color: var(--muted); } dl.fields dd { margin: 0; overflow-wrap: anywhere; }
ol.commits { list-style: none; padding: 0; }
ol.commits li { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .9rem; margin-bottom: .5rem; }
.meta { margin: 0; color: var(--muted); overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: .25rem 0; }
pre.diff { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .75rem; white-space: pre; overflow-x: auto; }
pre.diff .add { background: var(--add); } pre.diff .del { background: var(--del); }
pre.diff .hunk { color: var(--accent); } pre.diff .file, pre.diff .path { font-weight: 600; }
`;
