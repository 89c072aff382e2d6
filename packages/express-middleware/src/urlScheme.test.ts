import { describe, expect, it } from 'vitest';
import { schemeOf } from './urlScheme.js';

type SchemeSource = Parameters<typeof schemeOf>[0];

/** A request whose `req.protocol` must not be read: it stands for Express's trust check. */
const withoutForwarding = (encrypted: boolean | undefined): SchemeSource =>
  ({
    headers: {},
    socket: encrypted === undefined ? {} : { encrypted },
    get protocol(): string {
      throw new Error('req.protocol read');
    },
  }) as unknown as SchemeSource;

describe('schemeOf', () => {
  it("takes the connection's scheme when no proxy forwarded one, without req.protocol", () => {
    expect(schemeOf(withoutForwarding(true))).toBe('https');
    expect(schemeOf(withoutForwarding(false))).toBe('http');
    expect(schemeOf(withoutForwarding(undefined))).toBe('http');
  });

  it("follows req.protocol (Express's trust settings) when X-Forwarded-Proto is present", () => {
    const forwarded = (protocol: string) =>
      ({
        headers: { 'x-forwarded-proto': 'https' },
        socket: {},
        protocol,
      }) as unknown as SchemeSource;
    expect(schemeOf(forwarded('https'))).toBe('https');
    expect(schemeOf(forwarded('http'))).toBe('http');
    expect(schemeOf(forwarded('gopher'))).toBe('http');
  });
});
