import type { Request } from 'express';

/**
 * `url.scheme` of a request: Express's `req.protocol` (the connection's, or `X-Forwarded-Proto`
 * when the app trusts its proxy), bounded to the two values a server speaks — a forged header
 * cannot add series. Without the header both are the connection's, read here without
 * `req.protocol`'s trust check (which looks up the peer's address).
 */
export function schemeOf(req: Pick<Request, 'headers' | 'socket' | 'protocol'>): 'http' | 'https' {
  if (req.headers['x-forwarded-proto'] === undefined) {
    return (req.socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http';
  }
  return req.protocol === 'https' ? 'https' : 'http';
}
