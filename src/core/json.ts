/** JSON.parse that answers undefined for text that is not JSON, so a schema's safeParse reports it. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
