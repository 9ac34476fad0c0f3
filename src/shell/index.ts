/** Shells in the sandbox: the login shell, dotfiles sync, and what `aibox doctor` checks of them. */
export { describeSetup, parseSetupReport, setupShell, type SetupReport } from './setup.js';
export { DOTFILES_CLONE, DOTFILES_LOG, INSTALL_SCRIPTS, LOGIN_SHELL_LINK, PROXY_ENV_FILE } from './paths.js';
export { analyzeProbes, findShellConflicts, type ShellFinding } from './conflicts.js';
