import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/settings.js';
import { AiboxError } from '../core/errors.js';
import { readRegularFile } from '../core/files.js';
import { expandUrl, extensionFile, parseExtensionList, vscodeArch, type VscodeExtension } from './vscode.js';

/** What the image build pre-installs for VS Code: undefined when vscode.serverUrl is empty (the default). */
export interface VscodePlan {
  commit: string;
  arch: string;
  server: { url: string; sha256: string };
  /** The VS Code CLI (`code`), when vscode.cliUrl is set. */
  cli: { url: string; sha256: string } | undefined;
  extensions: { extension: VscodeExtension; url: string }[];
  /** images/vscode/install.sh of this aibox: run by the Containerfile. */
  installScript: string;
  /** Everything that decides the installed files (not the URLs: the digests name the content). */
  hashInput: string;
}

/** Checks the vscode.* settings and reads the extension list; no network. */
export async function planVscode(config: Config, root: string): Promise<VscodePlan | undefined> {
  const template = config['vscode.serverUrl'];
  if (template === '') return undefined;
  const commit = config['vscode.commit'];
  const sha256 = config['vscode.serverSha256'];
  if (commit === '') throw new AiboxError('MISSING_PREREQ', 'setting vscode.serverUrl is set but vscode.commit is empty: which server should the image pre-install?', 'aibox config set vscode.commit COMMIT (VS Code: Help > About, 40 hex digits)');
  if (sha256 === '') throw new AiboxError('MISSING_PREREQ', `setting vscode.serverUrl is set but vscode.serverSha256 is empty: aibox installs only a server whose digest is pinned`, 'aibox config set vscode.serverSha256 SHA256 (sha256sum of the archive on your mirror)');
  const arch = vscodeArch();
  const url = expandUrl(template, { commit, arch }, 'vscode.serverUrl');
  const cliTemplate = config['vscode.cliUrl'];
  const cliSha256 = config['vscode.cliSha256'];
  if (cliTemplate !== '' && cliSha256 === '') throw new AiboxError('MISSING_PREREQ', 'setting vscode.cliUrl is set but vscode.cliSha256 is empty: aibox installs only a CLI whose digest is pinned', 'aibox config set vscode.cliSha256 SHA256 (sha256sum of the CLI archive on your mirror)');
  const cli = cliTemplate === '' ? undefined : { url: expandUrl(cliTemplate, { commit, arch }, 'vscode.cliUrl'), sha256: cliSha256 };
  const listFile = config['vscode.extensions'] || join(root, 'images', 'vscode', 'extensions.txt');
  const listText = await readRegularFile(listFile);
  if (listText === undefined) throw new AiboxError('MISSING_PREREQ', `the VS Code extension list ${listFile} (setting vscode.extensions) does not exist`, 'aibox config set vscode.extensions /path/to/extensions.txt (or "" for the list of aibox)');
  const list = parseExtensionList(listText, listFile);
  const extensionTemplate = config['vscode.extensionUrl'];
  if (list.length > 0 && extensionTemplate === '') {
    throw new AiboxError('MISSING_PREREQ', `${listFile} lists ${list.length} extension(s) but setting vscode.extensionUrl is empty: where are their VSIX files?`, 'aibox config set vscode.extensionUrl https://mirror.example.com/vsix/{publisher}.{name}-{version}.vsix');
  }
  const extensions = list.map((extension) => ({
    extension,
    url: expandUrl(extensionTemplate, { publisher: extension.publisher, name: extension.name, version: extension.version }, 'vscode.extensionUrl'),
  }));
  const installScript = join(root, 'images', 'vscode', 'install.sh');
  const hashInput = [`${commit} linux-${arch} ${sha256}`, `cli ${cli?.sha256 ?? 'none'}`, ...list.map((e) => `${e.publisher}.${e.name}@${e.version} ${e.sha256}`), await readFile(installScript, 'utf8')].join('\n');
  return { commit, arch, server: { url, sha256 }, cli, extensions, installScript, hashInput };
}

class DigestMismatch extends Error {
  constructor(readonly actual: string) {
    super('sha256 mismatch');
  }
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

async function source(url: string): Promise<Readable> {
  if (url.startsWith('file://')) return createReadStream(fileURLToPath(url));
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'follow' });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    throw new AiboxError('MISSING_PREREQ', `cannot download ${url}: ${cause}`, 'check the org mirror (settings vscode.serverUrl, vscode.extensionUrl) and this machine\'s network');
  }
  if (!response.ok || !response.body) throw new AiboxError('MISSING_PREREQ', `cannot download ${url}: HTTP ${response.status}`, 'check that the org mirror has this file (settings vscode.serverUrl, vscode.extensionUrl)');
  return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
}

/**
 * Copies URL's content to `dest` only if its sha256 is `sha256`: the bytes go to a
 * temporary file in the cache while they are hashed; a mismatch removes it and throws
 * (nothing reaches the build context). A verified download is kept in
 * `cacheDir/vscode/<sha256>` for the next build.
 */
export async function fetchVerified(url: string, sha256: string, dest: string, cacheDir: string, what: string, setting: string): Promise<void> {
  const dir = join(cacheDir, 'vscode');
  const cached = join(dir, sha256);
  if ((await hashFile(cached).catch(() => undefined)) === sha256) {
    await copyFile(cached, dest);
    return;
  }
  await mkdir(dir, { recursive: true });
  const partial = join(dir, `.${sha256}.${process.pid}.partial`);
  try {
    const hash = createHash('sha256');
    const tee = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(await source(url), tee, createWriteStream(partial, { mode: 0o600 }));
    } catch (error) {
      if (error instanceof AiboxError) throw error;
      throw new AiboxError('MISSING_PREREQ', `cannot download ${url}: ${error instanceof Error ? error.message : String(error)}`, `check the org mirror (setting ${setting})`);
    }
    const actual = hash.digest('hex');
    if (actual !== sha256) throw new DigestMismatch(actual);
    await rename(partial, cached);
    await copyFile(cached, dest);
  } catch (error) {
    if (error instanceof DigestMismatch) {
      throw new AiboxError(
        'INVALID_FILE',
        `${what} at ${url} has sha256 ${error.actual}, expected ${sha256}; nothing was unpacked and no image was built`,
        `if the mirror serves the wrong file, fix the mirror; if the pinned digest is outdated, check the file against its published checksum and pin it: ${setting}`,
      );
    }
    throw error;
  } finally {
    await rm(partial, { force: true });
  }
}

/** Downloads and checks everything into `<context>/vscode/` (install.sh, commit, server.tar.gz, cli.tar.gz, extensions/). */
export async function fetchVscode(plan: VscodePlan, contextDir: string, cacheDir: string, progress: (line: string) => void): Promise<void> {
  const dir = join(contextDir, 'vscode');
  await mkdir(join(dir, 'extensions'), { recursive: true });
  progress(`VS Code server ${plan.commit.slice(0, 12)} from ${plan.server.url}…`);
  await fetchVerified(plan.server.url, plan.server.sha256, join(dir, 'server.tar.gz'), cacheDir, `the VS Code server archive for ${plan.commit}`, 'aibox config set vscode.serverSha256 SHA256');
  if (plan.cli) {
    progress(`VS Code CLI ${plan.commit.slice(0, 12)} from ${plan.cli.url}…`);
    await fetchVerified(plan.cli.url, plan.cli.sha256, join(dir, 'cli.tar.gz'), cacheDir, `the VS Code CLI archive for ${plan.commit}`, 'aibox config set vscode.cliSha256 SHA256');
  }
  for (const { extension, url } of plan.extensions) {
    progress(`VS Code extension ${extension.publisher}.${extension.name}@${extension.version} from ${url}…`);
    await fetchVerified(url, extension.sha256, join(dir, 'extensions', extensionFile(extension)), cacheDir, `the VSIX of ${extension.publisher}.${extension.name}@${extension.version}`, 'correct its sha256 in the extension list (setting vscode.extensions)');
  }
  await copyFile(plan.installScript, join(dir, 'install.sh'));
  await writeFile(join(dir, 'commit'), `${plan.commit}\n`);
}
