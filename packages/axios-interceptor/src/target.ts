/** Where a request goes, as far as breakers and telemetry need to know: never its path or query. */
export interface Target {
  /** Host name or IP (IPv6 without brackets), lower case: `server.address`. */
  readonly hostname: string;
  /** The port when the URL names a non-default one, else `undefined`: `server.port`. */
  readonly port: number | undefined;
  /** Default breaker key: `host` or `host:port` (IPv6 in brackets). */
  readonly key: string;
}

/**
 * The target of an absolute `http:` or `https:` URL; `undefined` for anything else (relative URLs
 * with no base, `data:` URLs), which the adapter then sends without resilience so Axios reports
 * its own error.
 */
export function targetOf(url: string): Target | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
  const { hostname, port, host } = parsed;
  if (hostname === '') return undefined;
  return {
    hostname: hostname.startsWith('[') ? hostname.slice(1, -1) : hostname,
    port: port === '' ? undefined : Number(port),
    key: host,
  };
}
