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

/** What {@link requestTarget} reads of a request config. */
export interface RequestLocation {
  readonly url?: string | undefined;
  readonly baseURL?: string | undefined;
  readonly allowAbsoluteUrls?: boolean | undefined;
}

// Axios's own test for an absolute URL (`isAbsoluteURL`).
const ABSOLUTE_URL = /^([a-z][a-z\d+\-.]*:)?\/\//i;

/** Targets by origin text (`https://api.example.com:8443`); emptied when it reaches this size. */
const MAX_CACHED_ORIGINS = 1_000;
const targetsByOrigin = new Map<string, Target | undefined>();

/**
 * The target of a request, resolved as Axios resolves its URL (`buildFullPath`): the base URL
 * when the URL is relative (or absolute URLs are not allowed), else the URL. Only the scheme and
 * authority are parsed, once per distinct origin — asking Axios (`getUri`) would merge the whole
 * config with the instance defaults again, which costs more than the rest of the interceptor.
 */
export function requestTarget(config: RequestLocation): Target | undefined {
  const url = config.url ?? '';
  const base = config.baseURL;
  const relative = typeof url !== 'string' || !ABSOLUTE_URL.test(url);
  const full = base && (relative || config.allowAbsoluteUrls === false) ? base : String(url);
  const origin = originOf(full);
  // Anything unusual (leading spaces, no scheme) is left to the URL parser as a whole.
  if (origin === undefined) return targetOf(full);
  if (targetsByOrigin.has(origin)) return targetsByOrigin.get(origin);
  if (targetsByOrigin.size >= MAX_CACHED_ORIGINS) targetsByOrigin.clear();
  const target = targetOf(origin);
  targetsByOrigin.set(origin, target);
  return target;
}

/** `scheme://authority` at the start of `url`, found without a regular expression's match array. */
function originOf(url: string): string | undefined {
  const slashes = url.indexOf('://');
  if (slashes <= 0) return undefined;
  for (let i = 0; i < slashes; i++) if (!isSchemeChar(url.charCodeAt(i), i === 0)) return undefined;
  let end = slashes + 3;
  while (end < url.length) {
    const c = url.charCodeAt(end);
    if (c === 0x2f || c === 0x3f || c === 0x23) break; // / ? #
    end++;
  }
  return end === url.length ? url : url.slice(0, end);
}

/** RFC 3986 scheme characters: a letter first, then letters, digits, `+`, `-` and `.`. */
function isSchemeChar(code: number, first: boolean): boolean {
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x7a) return true;
  return (
    !first && ((code >= 0x30 && code <= 0x39) || code === 0x2b || code === 0x2d || code === 0x2e)
  );
}
