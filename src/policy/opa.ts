import { z } from 'zod';
import { GLOB_DELIMITERS, GLOB_KINDS, type GlobKind } from './match.js';

/** test/fixtures/glob-cases.json: how aibox's glob and OPA's glob.match must both answer. */
const globCasesSchema = z.array(
  z.object({ kind: z.enum(GLOB_KINDS), pattern: z.string(), value: z.string(), expected: z.boolean() }).strict(),
);
export type GlobCase = z.infer<typeof globCasesSchema>[number];

export function parseGlobCases(json: string): GlobCase[] {
  return globCasesSchema.parse(JSON.parse(json));
}

/** The delimiters argument of OPA's glob.match for a kind; no delimiter is `null`, since OPA reads `[]` as `["."]`. */
function opaDelimiters(kind: GlobKind): string {
  const delimiters = GLOB_DELIMITERS[kind];
  return delimiters.length === 0 ? 'null' : JSON.stringify(delimiters);
}

/** docs/opa/glob_test.rego: one OPA test per case of the table (`opa test docs/opa`). */
export function renderGlobTests(cases: readonly GlobCase[]): string {
  const tests = cases.map((test, index) => {
    const call = `glob.match(${JSON.stringify(test.pattern)}, ${opaDelimiters(test.kind)}, ${JSON.stringify(test.value)})`;
    return `test_${String(index + 1).padStart(2, '0')}_${test.kind} if {\n\t${test.expected ? '' : 'not '}${call}\n}\n`;
  });
  return [
    '# Generated from test/fixtures/glob-cases.json by `npm run docs`; a unit test keeps it in sync.',
    "# Each case calls OPA's glob.match with the delimiters aibox uses for the kind: the same table",
    "# runs against aibox's own glob in test/unit/glob.test.ts.",
    'package aibox.glob_test',
    '',
    ...tests,
  ].join('\n');
}
