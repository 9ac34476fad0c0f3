/** aibox mcp import: an MCP registry server.json becomes an MCP pack, never holding a value. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { AiboxError } from '../../src/core/errors.js';
import { mcpPackSchema } from '../../src/mcp/pack.js';
import { importServerJson, importServerJsonFile, serverJsonSchema } from '../../src/mcp/server-json.js';

const NPM_SERVER = {
  $schema: 'https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json',
  name: 'io.github.example/weather-mcp',
  description: 'Weather forecasts',
  version: '1.4.2',
  repository: { url: 'https://git.example.com/weather', source: 'github' },
  packages: [
    {
      registryType: 'npm',
      identifier: '@example/weather-mcp',
      version: '1.4.2',
      transport: { type: 'stdio' },
      packageArguments: [{ type: 'positional', value: '--units=metric' }, { type: 'named', name: '--region', default: 'eu' }],
      environmentVariables: [{ name: 'WEATHER_API_KEY', isSecret: true, isRequired: true }, { name: 'WEATHER_LANG', default: 'en' }],
    },
  ],
};
const REMOTE_SERVER = {
  name: 'com.example/tickets',
  description: 'Tickets',
  version: 'v2.0.0-beta.1',
  remotes: [{ type: 'streamable-http', url: 'https://tickets.example.com/mcp', headers: [{ name: 'Authorization', isSecret: true }] }],
};

describe('mcp import (server.json)', () => {
  it('an npm package runs through npx on node@20, with egress to the configured registry and every variable as a reference', () => {
    const pack = importServerJson(serverJsonSchema.parse(NPM_SERVER), { npmRegistry: 'https://npm.example.com/repository/npm/' });
    assert.equal(pack.name, 'weather-mcp');
    assert.deepEqual(pack.server, {
      transport: 'stdio',
      command: 'npx',
      args: ['-y', '@example/weather-mcp@1.4.2', '--units=metric', '--region', 'eu'],
      env: { WEATHER_API_KEY: { from: 'env' }, WEATHER_LANG: { from: 'env' } },
    });
    assert.deepEqual(pack.source, { pack: 'node@20' });
    assert.deepEqual(pack.network_requires, ['npm.example.com:443']);
  });

  it('with --pack and --command, the tool pack provides the program', () => {
    const pack = importServerJson(serverJsonSchema.parse(NPM_SERVER), { name: 'weather', pack: 'mcp-weather@1.4.2', command: 'weather-mcp' });
    assert.equal(pack.name, 'weather');
    assert.deepEqual(pack.source, { pack: 'mcp-weather@1.4.2' });
    assert.equal(pack.server.transport === 'stdio' && pack.server.command, 'weather-mcp');
    assert.deepEqual(pack.network_requires, []);
    assert.throws(() => importServerJson(serverJsonSchema.parse(NPM_SERVER), { pack: 'mcp-weather@1.4.2' }), /needs --command/);
  });

  it('a remote server keeps its URL; secret headers come from the environment', () => {
    const pack = importServerJson(serverJsonSchema.parse(REMOTE_SERVER));
    assert.equal(pack.version, '2.0.0');
    assert.deepEqual(pack.server, { transport: 'http', url: 'https://tickets.example.com/mcp', headers: { Authorization: { from: 'env', name: 'AUTHORIZATION' } } });
    assert.deepEqual(pack.network_requires, ['tickets.example.com:443']);
  });

  it('refuses what it cannot run, a bad name and a bad version with the fix', () => {
    const pypi = { ...NPM_SERVER, packages: [{ ...NPM_SERVER.packages[0], registryType: 'pypi' }] };
    assert.throws(() => importServerJson(serverJsonSchema.parse(pypi)), (error: unknown) => error instanceof AiboxError && /pypi \(stdio\)/.test(error.message) && /--pack/.test(error.hint ?? ''));
    assert.throws(() => importServerJson(serverJsonSchema.parse(NPM_SERVER), { name: 'no spaces', npmRegistry: 'https://npm.example.com/' }), /name/);
    assert.throws(() => importServerJson(serverJsonSchema.parse({ ...REMOTE_SERVER, version: 'latest' })), /MAJOR\.MINOR\.PATCH/);
  });

  it('writes a valid pack file, never over an existing one without --force, and rejects garbage', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-mcp-import-'));
    const file = join(dir, 'server.json');
    await writeFile(file, JSON.stringify(REMOTE_SERVER));
    const packs = join(dir, 'mcp-packs');
    const { path } = await importServerJsonFile(file, packs, {});
    assert.deepEqual(mcpPackSchema.parse(parse(await readFile(path, 'utf8'))).name, 'tickets');
    await assert.rejects(importServerJsonFile(file, packs, {}), /exists already/);
    await importServerJsonFile(file, packs, { force: true });
    await writeFile(file, '{"name": ');
    await assert.rejects(importServerJsonFile(file, packs, {}), /is not valid JSON/);
    await writeFile(file, JSON.stringify({ name: 'x' }));
    await assert.rejects(importServerJsonFile(file, packs, {}), /server\.json.*description/s);
  });
});
