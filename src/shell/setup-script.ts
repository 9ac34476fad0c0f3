import { VSCODE_OPT } from '../ide/index.js';
import { INSTALL_SCRIPTS, NEVER_LINKED, PROXY_ENV_FILE } from './paths.js';

/** Seconds a clone or pull of the dotfiles repository may take. */
export const GIT_TIMEOUT_SECONDS = 120;

export interface SetupArgs {
  /** Absolute path of the login shell (/bin/bash, /bin/zsh). */
  loginShell: string;
  /** Empty: no dotfiles. */
  repo: string;
  branch: string;
  script: string;
  timeoutSeconds: number;
}

/** The positional arguments of SETUP_SCRIPT, in order. */
export function setupScriptArgs(args: SetupArgs): string[] {
  return [args.loginShell, args.repo, args.branch, args.script, String(args.timeoutSeconds)];
}

/**
 * The shell setup that `aibox start` runs inside the sandbox as dev (POSIX sh;
 * `sh -c SCRIPT sh ARGS...`). It points the login-shell link at the chosen shell,
 * syncs the dotfiles repository (clone; later `pull --ff-only`; a changed URL or
 * branch moves the old clone aside), then runs the first install script, or make,
 * or links every top-level dot entry into $HOME (a regular file in the way is kept
 * as NAME.aibox-bak; an existing folder is merged entry by entry). Everything it
 * runs writes to ~/.aibox/dotfiles.log; what happened goes to stdout as
 * `aibox-setup:KEY=VALUE` lines (parseSetupReport; dotfiles may print too). It never fails the start: every outcome is a report.
 */
export const SETUP_SCRIPT = `
set -u
shell=$1 repo=$2 branch=$3 script=$4 limit=$5
state=$HOME/.aibox
clone=$state/dotfiles
log=$state/dotfiles.log
nl='
'
report() { printf 'aibox-setup:%s=%s\\n' "$1" "$2" >&3; }
exec 3>&1
mkdir -p "$state"
ln -sfn "$shell" "$state/login-shell" && report shell "$shell"

link_entry() {
  local src=$1 dst=$2 entry bak n
  if [ -L "$dst" ]; then
    if [ "$dst" -ef "$src" ]; then return 0; fi
    rm -f "$dst"
  elif [ -d "$dst" ] && [ -d "$src" ] && [ ! -L "$src" ]; then
    for entry in "$src"/* "$src"/.[!.]* "$src"/..?*; do
      if [ -e "$entry" ] || [ -L "$entry" ]; then link_entry "$entry" "$dst/\${entry##*/}"; fi
    done
    return 0
  elif [ -f "$dst" ]; then
    bak=$dst.aibox-bak n=1
    while [ -e "$bak" ] || [ -L "$bak" ]; do bak=$dst.aibox-bak.$n; n=$((n + 1)); done
    mv "$dst" "$bak" || return 0
    echo "aibox: kept your $dst as $bak"
    backups=$((backups + 1))
  elif [ -e "$dst" ]; then
    echo "aibox: left $dst alone (the repository has a different kind of entry there)"
    return 0
  fi
  ln -s "$src" "$dst" && linked=$((linked + 1)) && echo "aibox: linked $dst"
}

link_dotfiles() {
  linked=0 backups=0 entries=0
  for src in "$clone"/.[!.]* "$clone"/..?*; do
    if [ ! -e "$src" ] && [ ! -L "$src" ]; then continue; fi
    case \${src##*/} in ${NEVER_LINKED.join('|')}) continue ;; esac
    entries=$((entries + 1))
    link_entry "$src" "$HOME/\${src##*/}"
  done
  # Links into the clone whose file is gone (a changed repository): removed.
  for dst in "$HOME"/.[!.]* "$HOME"/..?*; do
    if [ -L "$dst" ] && [ ! -e "$dst" ]; then
      case $(readlink "$dst") in "$clone"/*) rm -f "$dst" && echo "aibox: removed the stale link $dst" ;; esac
    fi
  done
  if [ "$entries" -eq 0 ]; then report status empty; return 0; fi
  report status linked
  report linked "$linked"
  report backups "$backups"
}

run_install() {
  local commit=$1 done=
  if [ -r "$state/dotfiles.installed" ]; then read -r done < "$state/dotfiles.installed" || true; fi
  report script "$found"
  if [ "$done" = "$commit" ]; then report status up-to-date; return 0; fi
  rm -f "$state/dotfiles.installed"
  if [ "$found" = make ]; then set -- make
  elif [ -x "$clone/$found" ]; then set -- "./$found"
  else set -- bash "./$found"
  fi
  echo "aibox: running $* (at most $limit s)"
  (cd "$clone" && AIBOX_DOTFILES=$clone exec timeout -k 10 "$limit" "$@" </dev/null)
  rc=$?
  echo "aibox: $* exited with $rc"
  if [ "$rc" -eq 0 ]; then
    printf '%s\\n' "$commit" > "$state/dotfiles.installed"
    report status installed
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    report status timed-out
  else
    report status script-failed
    report exit "$rc"
  fi
}

sync_dotfiles() {
  exec >"$log" 2>&1
  echo "aibox: dotfiles from $repo\${branch:+ (branch $branch)}"
  export GIT_TERMINAL_PROMPT=0 GIT_SSH_COMMAND='ssh -o BatchMode=yes'
  if [ -r ${PROXY_ENV_FILE} ]; then . ${PROXY_ENV_FILE}; fi
  want="$repo#$branch" have=
  if [ -r "$state/dotfiles.source" ]; then read -r have < "$state/dotfiles.source" || true; fi
  if { [ -e "$clone" ] || [ -L "$clone" ]; } && { [ "$have" != "$want" ] || [ ! -d "$clone/.git" ]; }; then
    aside=$clone.$(date +%Y%m%d-%H%M%S)
    mv "$clone" "$aside" && report moved "$aside" && echo "aibox: moved the previous clone to $aside"
    rm -f "$state/dotfiles.installed"
  fi
  if [ -d "$clone/.git" ]; then
    out=$(timeout ${GIT_TIMEOUT_SECONDS} git -C "$clone" pull --ff-only 2>&1)
    rc=$?
    printf '%s\\n' "$out"
    if [ "$rc" -eq 0 ]; then report fetch pulled; else report fetch pull-failed; report error "\${out##*"$nl"}"; fi
  else
    rm -rf "$clone.tmp"
    if [ -n "$branch" ]; then set -- --branch "$branch"; else set --; fi
    out=$(timeout ${GIT_TIMEOUT_SECONDS} git clone "$@" -- "$repo" "$clone.tmp" 2>&1)
    rc=$?
    printf '%s\\n' "$out"
    if [ "$rc" -ne 0 ]; then
      rm -rf "$clone.tmp"
      report status clone-failed
      report error "\${out##*"$nl"}"
      return 0
    fi
    mv "$clone.tmp" "$clone"
    printf '%s\\n' "$want" > "$state/dotfiles.source"
    report fetch cloned
  fi
  commit=$(git -C "$clone" rev-parse HEAD 2>/dev/null) || commit=
  report commit "$commit"
  found=
  if [ -n "$script" ]; then
    if [ ! -f "$clone/$script" ]; then report status script-missing; report script "$script"; return 0; fi
    found=$script
  else
    for candidate in ${INSTALL_SCRIPTS.join(' ')}; do
      if [ -f "$clone/$candidate" ]; then found=$candidate; break; fi
    done
    if [ -z "$found" ] && [ -f "$clone/Makefile" ]; then found=make; fi
  fi
  if [ -n "$found" ]; then run_install "$commit"; else link_dotfiles; fi
}

if [ -n "$repo" ]; then (sync_dotfiles); else report status none; fi
# zsh without any startup file stops at its new-user menu: give it a small ~/.zshrc.
if [ ! -e "$HOME/.zshrc" ] && [ ! -L "$HOME/.zshrc" ] && [ ! -e "$HOME/.zshenv" ] && [ ! -e "$HOME/.zprofile" ] && [ ! -e "$HOME/.zlogin" ] && [ -r /etc/aibox/zshrc ]; then
  cp /etc/aibox/zshrc "$HOME/.zshrc" && report zshrc created
fi
# The VS Code server pre-installed in the image (/opt/vscode-server/<commit>, root's):
# linked into both layouts VS Code checks in the home volume, so connecting downloads
# nothing; the extensions copied in once (a home volume without ~/.vscode-server/extensions);
# telemetry off merged into the machine settings (the user's other keys kept).
if [ -r ${VSCODE_OPT}/commit ]; then
  read -r vc < ${VSCODE_OPT}/commit
  vs=$HOME/.vscode-server
  vsrc=${VSCODE_OPT}/$vc/server
  # Links to a server an older image had: removed (VS Code then sees that commit as absent).
  for dst in "$vs"/bin/* "$vs"/cli/servers/Stable-*/server "$vs"/code-*; do
    if [ -L "$dst" ] && [ ! -e "$dst" ]; then
      case $(readlink "$dst") in ${VSCODE_OPT}/*) rm -f "$dst" ;; esac
    fi
  done
  mkdir -p "$vs/bin" "$vs/cli/servers/Stable-$vc" "$vs/data/Machine"
  for dst in "$vs/bin/$vc" "$vs/cli/servers/Stable-$vc/server"; do
    # A server VS Code downloaded itself (a real folder) is left alone.
    if [ -L "$dst" ] || [ ! -e "$dst" ]; then ln -sfn "$vsrc" "$dst"; fi
  done
  # Remote-SSH's exec server runs ~/.vscode-server/code-<commit> (the VS Code CLI) first.
  if [ -x ${VSCODE_OPT}/$vc/cli/code ] && { [ -L "$vs/code-$vc" ] || [ ! -e "$vs/code-$vc" ]; }; then
    ln -sfn ${VSCODE_OPT}/$vc/cli/code "$vs/code-$vc"
  fi
  if [ ! -e "$vs/extensions" ] && [ -d ${VSCODE_OPT}/$vc/extensions ]; then
    rm -rf "$vs/extensions.tmp"
    cp -R ${VSCODE_OPT}/$vc/extensions "$vs/extensions.tmp" && mv "$vs/extensions.tmp" "$vs/extensions"
  fi
  report vscode "$vc"
  if ! grep -qs '"telemetry.telemetryLevel"[[:space:]]*:[[:space:]]*"off"' "$vs/data/Machine/settings.json"; then
    if out=$(/opt/aibox/bin/aibox vscode-machine-settings 2>&1); then report vscode_settings merged
    else report vscode_settings failed; report vscode_error "\${out##*"$nl"}"
    fi
  fi
fi
exit 0
`;
