import { isSettingKey, type Config } from '../config/settings.js';

/** `${setting:KEY}` in a value of env.vars: the host's setting KEY (aibox config get KEY). */
const SETTING_REF = /\$\{setting:([^}]*)\}/g;

/** The settings a pack's env.vars refer to that this aibox does not know (a typo, or a newer pack). */
export function unknownSettingRefs(vars: Readonly<Record<string, string>>): string[] {
  return Object.values(vars).flatMap((value) => [...value.matchAll(SETTING_REF)].map((match) => match[1] ?? '')).filter((key) => !isSettingKey(key));
}

/**
 * A pack's variables as the sandbox gets them: `$PACK_DIR` is its installed folder,
 * `${setting:KEY}` the host's setting at install time. A variable that refers to an
 * empty or unknown setting is left out, so e.g. ANTHROPIC_BASE_URL exists only where
 * the org has an LLM proxy (a changed setting applies to packs installed after it).
 */
export function resolvePackVars(vars: Readonly<Record<string, string>>, packDir: string, config: Config): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const [name, value] of Object.entries(vars)) {
    let missing = false;
    // $PACK_DIR first: a setting's value is taken as it is.
    const text = value.replaceAll('$PACK_DIR', packDir).replace(SETTING_REF, (_, key: string) => {
      const setting = isSettingKey(key) ? String(config[key]) : '';
      if (!setting) missing = true;
      return setting;
    });
    if (!missing) resolved[name] = text;
  }
  return resolved;
}
