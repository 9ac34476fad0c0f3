import { join } from 'node:path';
import { makeAdapter } from '../adapter.js';
import { yamlFormat } from '../formats/yaml.js';
import { ifAny, ifSet, type Agent } from './agent.js';

// Source: continuedev/continue packages/config-yaml/src/schemas/mcp/index.ts — config.yaml "mcpServers" is a list of {name, type: stdio, command, args, env, cwd} or {name, type: streamable-http, url, requestOptions}.
export const continueDev: Agent = {
  id: 'continue',
  name: 'Continue',
  file: (home) => join(home, '.continue', 'config.yaml'),
  // Continue's config.yaml needs its own name and version: aibox edits it only once Continue has written it.
  installedAt: (home) => join(home, '.continue', 'config.yaml'),
  // ${{ secrets.X }} reads Continue's own secrets, not the environment, so secrets go through the wrapper.
  adapter: makeAdapter(yamlFormat({ key: 'mcpServers', kind: 'list' }), { cwd: true, remote: 'headers' }, (name, launch) =>
    launch.transport === 'stdio'
      ? { name, type: 'stdio', command: launch.command, args: launch.args, ...ifAny('env', launch.env), ...ifSet('cwd', launch.cwd) }
      : { name, type: 'streamable-http', url: launch.url },
  ),
};
