/** IDEs in the sandbox: VS Code's server, CLI and extensions pre-installed in the image, and its machine settings. */
export { fetchVscode, planVscode, type VscodePlan } from './vscode-fetch.js';
export { applyMachineSettings, machineSettingsPath } from './machine-settings.js';
export { VSCODE_OPT } from './vscode.js';
