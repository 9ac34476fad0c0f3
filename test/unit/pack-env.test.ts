import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../../src/config/settings.js';
import { resolvePackVars, unknownSettingRefs } from '../../src/packs/pack-env.js';

const VARS = {
  ANTHROPIC_BASE_URL: '${setting:llm.anthropicBaseUrl}',
  OPENAI_BASE_URL: '${setting:llm.openaiBaseUrl}/v1',
  TOOL_HOME: '$PACK_DIR/share',
  FIXED: '1',
};

describe("a pack's environment at install", () => {
  it('sets a variable from its setting, and leaves it out while the setting is empty', () => {
    const proxy = configSchema.parse({ 'llm.anthropicBaseUrl': 'https://llm-proxy.example.com/anthropic' });
    assert.deepEqual(resolvePackVars(VARS, '/opt/toolpacks/ai-tools/1.0.0', proxy), {
      ANTHROPIC_BASE_URL: 'https://llm-proxy.example.com/anthropic',
      TOOL_HOME: '/opt/toolpacks/ai-tools/1.0.0/share',
      FIXED: '1',
    });
    assert.deepEqual(resolvePackVars(VARS, '/p', configSchema.parse({})), { TOOL_HOME: '/p/share', FIXED: '1' });
  });

  it('takes a setting as it is ($PACK_DIR in it stays) and leaves out a variable of an unknown setting', () => {
    const config = configSchema.parse({ 'llm.openaiBaseUrl': 'https://proxy.example.com/$PACK_DIR' });
    assert.deepEqual(resolvePackVars({ A: '${setting:llm.openaiBaseUrl}', B: '${setting:no.such}' }, '/p', config), { A: 'https://proxy.example.com/$PACK_DIR' });
  });

  it('names the settings a manifest refers to that do not exist', () => {
    assert.deepEqual(unknownSettingRefs(VARS), []);
    assert.deepEqual(unknownSettingRefs({ A: '${setting:llm.anthropicBaseURL}', B: 'x${setting:}' }), ['llm.anthropicBaseURL', '']);
  });
});
