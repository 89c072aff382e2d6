import { afterEach, describe, expect, it } from 'vitest';
import { rejectAfterHandlersAttach } from './rejectAfterHandlersAttach.js';

describe('rejectAfterHandlersAttach', () => {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown) => seen.push(reason);
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  it('rejects with the error and is never reported as unhandled when awaited', async () => {
    process.on('unhandledRejection', onUnhandled);
    const error = new Error('refused');
    await expect(rejectAfterHandlersAttach(error)).rejects.toBe(error);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([]);
  });
});
