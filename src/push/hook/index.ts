/** Server-side enforcement of the push approval flow: the git server's pre-receive hook. */
export { installHook, type InstalledHook, type InstallHookOptions } from './install.js';
export { DEFAULT_IDENTITY_ENV, DEFAULT_PROTECT, DEFAULT_SERVICE_IDENTITY, HookPolicy, parseHookPolicy, type HookPolicyInput } from './policy.js';
export { HOOK_MARKER, preReceiveScript } from './script.js';
