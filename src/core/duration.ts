import { z } from 'zod';

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration in a config file, such as 200ms, 30s, 10m, 48h or 7d, read as milliseconds. */
export const Duration = z
  .string()
  .regex(/^[1-9]\d{0,8}(ms|s|m|h|d)$/, 'must be a duration such as 200ms, 30s, 10m, 48h or 7d')
  .transform((text) => {
    const [, amount = '0', unit = 'ms'] = /^(\d+)(ms|s|m|h|d)$/.exec(text) ?? [];
    return Number(amount) * UNITS[unit as keyof typeof UNITS];
  });
