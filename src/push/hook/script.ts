import { shellQuote } from '../../ssh/client.js';
import { stagingRoot } from '../staging.js';
import { EnvName, type HookPolicy } from './policy.js';

/**
 * The server-side `pre-receive` hook: a self-contained POSIX sh script (a git
 * server has git and sh, not Node or aibox). Every policy value is embedded
 * single-quoted; the identity variable's name is checked to be an identifier.
 *
 * For each `old new ref` line git gives it, with the pusher named by the git
 * server's variable:
 * - its own staging ref (`<root><pusher>/<UTC time>/<target>`, the grammar of
 *   staging.ts): create, update, delete;
 * - any staging ref: the service may delete it (promotion and reject do);
 * - a protected ref: only the service;
 * - anything else, or no pusher: refused.
 * The staging namespace is decided first, so protecting refs/heads/* leaves
 * refs/heads/aibox/staging/ to the staging rules in branch mode.
 */

/** The hook's second line: how aibox knows a hook is its own (and may replace it). */
export const HOOK_MARKER = '# aibox-managed pre-receive hook: written by `aibox approvals install-hook` (docs/push.md); reinstall it rather than edit it.';

/** 20261127T205501Z as a glob: the timestamp component of a staging ref. */
const STAMP_GLOB = `${'[0-9]'.repeat(8)}T${'[0-9]'.repeat(6)}Z`;

/** A case pattern matching the ref pattern: literal parts quoted, `*` left active. */
function casePattern(pattern: string): string {
  return pattern.split('*').map((part) => part && shellQuote(part)).join('*');
}

export function preReceiveScript(policy: HookPolicy): string {
  const identityVar = EnvName.parse(policy.identityEnv);
  const protect = policy.protect.map(casePattern).join(' | ');
  return `#!/bin/sh
${HOOK_MARKER}
set -eu
LC_ALL=C
export LC_ALL

service=${shellQuote(policy.serviceIdentity)}
root=${shellQuote(stagingRoot(policy.namespace))}
protected=${shellQuote(policy.protect.join(' '))}
bypass='pushes that bypass the aibox helper are not allowed: push from the aibox sandbox, so the push is staged for approval'
who=\${${identityVar}-}
refused=0

refuse() {
  printf 'aibox: refused: %s\\n' "$1" >&2
  refused=1
}

# An aibox identity: letters, digits, . _ @ + -, starting with a letter or digit, at most 64.
valid_identity() {
  case $1 in
    '' | [!A-Za-z0-9]* | *[!A-Za-z0-9_.@+-]*) return 1 ;;
  esac
  [ \${#1} -le 64 ]
}

is_zero() {
  case $1 in
    *[!0]*) return 1 ;;
  esac
}

while read -r old new ref; do
  if is_zero "$old"; then op=create; elif is_zero "$new"; then op=delete; else op=update; fi
  if [ -z "$who" ]; then
    refuse "$ref: the git server named no pusher (${identityVar} is empty); its administrator must set ${identityVar} for every login"
    continue
  fi
  if ! valid_identity "$who"; then
    refuse "$ref: the pusher's name in ${identityVar} is not an aibox identity (letters, digits, . _ @ + -, at most 64); its administrator must fix it"
    continue
  fi
  case $ref in
    "$root"*)
      rest=\${ref#"$root"}
      owner=\${rest%%/*}
      if [ "$who" = "$service" ] && [ "$op" = delete ]; then
        :
      elif [ "$owner" != "$who" ]; then
        refuse "$who may not $op $ref: it is $owner's staging namespace; $bypass"
      else
        case $rest in
          "$who"/${STAMP_GLOB}/?*) ;;
          *) refuse "$who may not $op $ref: not a staging ref ($root$who/<UTC time>/<target>); $bypass" ;;
        esac
      fi
      ;;
    ${protect})
      if [ "$who" != "$service" ]; then
        refuse "$who may not $op $ref: only $service (the approval service) may; $bypass"
      fi
      ;;
    *)
      if [ "$who" = "$service" ]; then
        refuse "$who may not $op $ref: it matches none of this hook's protected patterns ($protected); reinstall the hook with --protect for it"
      else
        refuse "$who may not $op $ref: $bypass"
      fi
      ;;
  esac
done
exit "$refused"
`;
}
