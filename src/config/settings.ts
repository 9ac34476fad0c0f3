import { z } from 'zod';
import { SecretRef } from '../core/secrets.js';
import { IDENTITY_PATTERN } from '../push/staging.js';

const absolutePath = z.string().regex(/^\/./, 'must be an absolute path');
const absolutePathOrEmpty = z.string().regex(/^(\/.*)?$/, 'must be an absolute path');
const httpUrlOrEmpty = z.string().regex(/^$|^https?:\/\/\S+$/, 'must be an http(s) URL such as https://llm-proxy.example.com, or empty');
/** An org mirror's URL template (http(s) or file://), or empty; EXAMPLE is what the error shows. */
const mirrorUrlTemplate = (example: string) => z.string().regex(/^$|^(https?|file):\/\/\S+$/, `must be an http(s) or file:// URL template such as ${example}, or empty`).default('');
const sha256OrEmpty = z.string().regex(/^$|^[0-9a-f]{64}$/, 'must be a sha256: 64 lowercase hex digits, or empty').default('');

/**
 * The one table of user settings: the schema validates `aibox config set`,
 * its descriptions and defaults drive `aibox config list` and docs/config.md.
 */
export const configSchema = z
  .object({
    'ssh.port': z.coerce
      .number()
      .int()
      .min(1024)
      .max(65535)
      .default(2222)
      .describe('Host port on 127.0.0.1 where a new sandbox publishes its SSH server'),
    runtime: z
      .enum(['auto', 'gvisor', 'runc'])
      .default('auto')
      .describe('Container runtime: auto (gVisor when installed), gvisor, or runc (weaker isolation)'),
    profile: z
      .enum(['default', 'jetbrains'])
      .default('default')
      .describe('Resource profile of a new sandbox: default, or jetbrains (4 cores, 8-12 GB)'),
    'image.from': z
      .string()
      .regex(/^$|^[a-z0-9][\w.\-/:@]*$/, 'must be an image reference such as registry.example.com/debian:bookworm')
      .default('')
      .describe('Debian bookworm base image from an org registry; empty builds one locally with debootstrap'),
    'image.caBundle': absolutePathOrEmpty
      .default('/etc/ssl/certs/ca-certificates.crt')
      .describe('PEM bundle of org CA certificates trusted in the sandbox (e.g. a TLS-inspecting proxy)'),
    'image.mirror': z
      .string()
      .regex(/^$|^https?:\/\/\S+$/, 'must be an http(s) URL such as http://mirror.example.com/debian, or empty')
      .default('')
      .describe("Debian mirror used by debootstrap and apt while building the image; empty: the bookworm mirror of this machine's apt sources"),
    'image.keyring': absolutePath
      .default('/usr/share/keyrings/debian-archive-keyring.gpg')
      .describe("OpenPGP keyring that signs the mirror's Release file: debootstrap refuses a mirror it does not verify"),
    'vscode.serverUrl': mirrorUrlTemplate('https://mirror.example.com/vscode/{commit}/vscode-server-linux-{arch}.tar.gz')
      .describe('Org mirror of the VS Code server archive, pre-installed in the image for vscode.commit ({commit} and {arch} are filled in; checked against vscode.serverSha256 before it is unpacked); empty: none, VS Code downloads its server at first connect'),
    'vscode.commit': z
      .string()
      .regex(/^$|^[0-9a-f]{40}$/, 'must be a VS Code commit: 40 lowercase hex digits (Help > About in VS Code), or empty')
      .default('')
      .describe('The VS Code commit whose server the image pre-installs (the commit of the VS Code your developers run)'),
    'vscode.serverSha256': sha256OrEmpty
      .describe('sha256 of the server archive at vscode.serverUrl; the image build fails on any other content'),
    'vscode.cliUrl': mirrorUrlTemplate('https://mirror.example.com/vscode/{commit}/vscode_cli_alpine_{arch}_cli.tar.gz')
      .describe("Org mirror of the VS Code CLI archive (the `code` binary Remote-SSH's exec server runs first) for vscode.commit; empty: Remote-SSH downloads that CLI at first connect"),
    'vscode.cliSha256': sha256OrEmpty
      .describe('sha256 of the CLI archive at vscode.cliUrl'),
    'vscode.extensionUrl': mirrorUrlTemplate('https://mirror.example.com/vsix/{publisher}.{name}-{version}.vsix')
      .describe('Org mirror of the VSIX files of the curated extension list ({publisher}, {name}, {version} are filled in); needed when the list is not empty'),
    'vscode.extensions': absolutePathOrEmpty
      .default('')
      .describe('The curated extension list (publisher.name@version sha256 per line) installed offline with the server; empty: images/vscode/extensions.txt of aibox'),
    'packs.registry': z
      .string()
      .regex(/^$|^\/|^[a-z0-9][\w.\-:[\]]*(\/[\w.\-]+)*$/i, 'must be a registry such as registry.example.com/aibox-packs, or an absolute path of an OCI layout folder')
      .default('')
      .describe('Where tool packs come from: an OCI registry (registry.example.com/aibox-packs) or an OCI layout folder; empty is ~/.local/share/aibox/packs'),
    'llm.anthropicBaseUrl': httpUrlOrEmpty
      .default('')
      .describe("The org's LLM proxy for Anthropic's API: tool packs that ask for it (ai-tools) set ANTHROPIC_BASE_URL to it; empty sets nothing"),
    'llm.openaiBaseUrl': httpUrlOrEmpty
      .default('')
      .describe("The org's LLM proxy for OpenAI's API: tool packs that ask for it (ai-tools) set OPENAI_BASE_URL to it; empty sets nothing"),
    'dotfiles.repo': z
      .string()
      .regex(/^$|^(https?|git|ssh|file):\/\/\S+$|^[\w.-]+@[\w.-]+:\S+$/, 'must be a git URL such as https://git.example.com/me/dotfiles.git or git@git.example.com:me/dotfiles.git, or empty')
      .default('')
      .describe('Your dotfiles repository, cloned inside the sandbox at start (then pulled with --ff-only); empty: none'),
    'dotfiles.branch': z
      .string()
      .regex(/^$|^(?!.*\.\.)(?!-)[\w./-]+$/, 'must be a branch name such as main, or empty')
      .default('')
      .describe("Branch of the dotfiles repository; empty: the repository's default branch"),
    'dotfiles.script': z
      .string()
      .regex(/^$|^(?!\/)(?!.*\.\.)[\w./-]+$/, 'must be a path inside the repository such as script/install.sh, or empty')
      .default('')
      .describe('Install script to run from the dotfiles repository; empty: the first of install.sh, install, bootstrap.sh, bootstrap, script/bootstrap, setup.sh, setup, script/setup, else make with a Makefile, else symlink the dot files'),
    'dotfiles.timeout': z.coerce
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(300)
      .describe('Seconds the dotfiles install script may run before it is stopped'),
    shell: z
      .enum(['bash', 'zsh'])
      .default('bash')
      .describe('Login shell in the sandbox (SSH, VS Code and JetBrains terminals, tmux): bash or zsh; applies at the next start'),
    'push.identity': z
      .string()
      .regex(new RegExp(`^$|${IDENTITY_PATTERN.source}`), 'must be a name such as alice or alice@example.com, or empty')
      .default('')
      .describe('Who you are in push approval requests and staging refs; empty: your user name on this machine'),
    'push.staging': z
      .enum(['refs', 'branches'])
      .default('refs')
      .describe('Where review-required pushes are staged: refs (refs/aibox/staging/...), or branches (aibox/staging/..., for git hosts that refuse custom refs)'),
    'push.service': z
      .string()
      .regex(/^$|^https?:\/\/[^\s]+$/, 'must be the approval service\'s http(s) URL, such as http://127.0.0.1:7420, or empty')
      .default('')
      .describe('The approval service each staged push is registered with (aibox approvals serve); empty: none, approvers find pushes on the remote'),
    'push.token': SecretRef.default('env:AIBOX_PUSH_TOKEN')
      .describe('Where your approval service token is (env:VARIABLE or file:/path, mode 600); read on the host, never inside the sandbox'),
    'policy.team': absolutePathOrEmpty
      .default('')
      .describe('Team policy layer, between the org policy and the project .aibox/policy.yaml'),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type SettingKey = keyof Config;

export const SETTING_KEYS = Object.keys(configSchema.shape) as SettingKey[];

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(configSchema.shape, key);
}
