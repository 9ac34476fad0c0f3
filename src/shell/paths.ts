/**
 * Where the shell setup keeps its state inside the sandbox: in dev's home, so on
 * the home volume (it survives stop/start, re-creation and image updates).
 */
export const SANDBOX_HOME = '/home/dev';
export const STATE_DIR = `${SANDBOX_HOME}/.aibox`;
/** The clone of the user's dotfiles repository. */
export const DOTFILES_CLONE = `${STATE_DIR}/dotfiles`;
/** Output of the last clone, pull and install script. */
export const DOTFILES_LOG = `${STATE_DIR}/dotfiles.log`;
/** dev's login shell in /etc/passwd is a link to this link, which points to the chosen shell. */
export const LOGIN_SHELL_LINK = `${STATE_DIR}/login-shell`;
/**
 * Proxy variables aibox enforces in every shell (sourced last). Root-owned, in the
 * toolpacks volume next to the packs' env.sh: only aibox (from the host)
 * writes it, so an agent as dev cannot change it. Absent: no proxy.
 */
export const PROXY_ENV_FILE = '/opt/toolpacks/.aibox/proxy.sh';

/** What `dotfiles.repo` installs with, first match wins (the names Codespaces and Coder use). */
export const INSTALL_SCRIPTS = ['install.sh', 'install', 'bootstrap.sh', 'bootstrap', 'script/bootstrap', 'setup.sh', 'setup', 'script/setup'] as const;

/** Top-level entries of a dotfiles repository that are never linked into $HOME. */
export const NEVER_LINKED = ['.git', '.github', '.gitignore', '.gitmodules', '.gitattributes', '.aibox'] as const;

export const LOGIN_SHELLS = { bash: '/bin/bash', zsh: '/bin/zsh' } as const;
