import { expect } from 'vitest';

/** The call rejects (or throws) with `code` and a message containing `words`. */
export async function expectCode(call: () => Promise<unknown>, code: string, ...words: string[]): Promise<void> {
  const err = await (async () => call())().then(
    () => undefined,
    (e: unknown) => e as Error & { code?: string },
  );
  expect(err, 'expected a rejection').toBeDefined();
  expect(err!.code, err!.message).toBe(code);
  for (const word of words) expect(err!.message).toContain(word);
}
