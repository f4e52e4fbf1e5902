// Who may reach the wall from where, as pure checks on a request's target and headers: the request target parsed
// without throwing, loopback addresses, the Host allowlist (against DNS rebinding), the Origin allowlist (against
// cross-site requests and WebSocket hijacking) and the JSON content type of state-changing requests.
import { isIPv6 } from 'node:net';
import { isLoopbackAddress } from '../shared/loopback.js';

export { isLoopbackAddress };

/** A request target split into path and query; null when it is not an origin-form target (`/path?query`). */
export function parseRequestTarget(raw: string | undefined): { path: string; query: URLSearchParams } | null {
  // `//host/…` would read as an authority to a URL parser (it is what made `new URL()` throw on `//[`): refused.
  if (raw === undefined || raw.length === 0 || raw.length > 8_192 || raw[0] !== '/' || raw[1] === '/') return null;
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  // Visible ASCII only: no spaces, controls or raw bytes above 0x7e (they are percent-encoded by any real client).
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return null;
  }
  try {
    return { path, query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
  } catch {
    return null;
  }
}

/** The host name of a Host header (lower case, without port, brackets or a trailing dot); null when malformed. */
export function hostName(header: string): string | null {
  const value = header.trim().toLowerCase();
  if (value.length === 0 || value.length > 255) return null;
  let name: string;
  let port: string | undefined;
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    if (end < 0) return null;
    name = value.slice(1, end);
    const rest = value.slice(end + 1);
    if (rest.length > 0 && !rest.startsWith(':')) return null;
    port = rest.length > 0 ? rest.slice(1) : undefined;
    if (!isIPv6(name)) return null;
  } else {
    const colon = value.indexOf(':');
    name = colon < 0 ? value : value.slice(0, colon);
    port = colon < 0 ? undefined : value.slice(colon + 1);
    if (!/^[a-z0-9._-]+$/.test(name)) return null;
  }
  if (port !== undefined && !/^\d{1,5}$/.test(port)) return null;
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

export interface HostPolicy {
  /** The wall is bound to a loopback address. */
  boundToLoopback: boolean;
  /** Host names (no port) served besides the loopback names; lower case. */
  allowedHosts: readonly string[];
}

/**
 * Whether a request naming this Host is served. A loopback name is always served (it cannot be an attacker's domain);
 * any other name only when listed, or when the wall is bound elsewhere and no list is configured. A request without a
 * Host header is not from a browser (browsers always send one), so it is served.
 */
export function hostAllowed(header: string | undefined, policy: HostPolicy): boolean {
  if (header === undefined) return true;
  const name = hostName(header);
  if (name === null) return false;
  if (isLoopbackAddress(name)) return true;
  if (policy.allowedHosts.includes(name)) return true;
  return !policy.boundToLoopback && policy.allowedHosts.length === 0;
}

/** `scheme://host[:port]`, lower case; null when the value is not a plain http(s) origin. */
export function normalizeOrigin(value: string): string | null {
  const match = /^(https?):\/\/([^/?#\s]+)\/?$/i.exec(value.trim());
  return match ? `${match[1].toLowerCase()}://${match[2].toLowerCase()}` : null;
}

/**
 * Whether a request carrying this Origin may change state or open the WebSocket: the wall's own origin
 * (`http(s)://<Host header>`) or one listed in `allowedOrigins`. No Origin header: not a browser, allowed (tokens
 * still apply). `Origin: null` (sandboxed frames, file: pages) is never allowed.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowedOrigins: readonly string[]): boolean {
  if (origin === undefined) return true;
  const normalized = normalizeOrigin(origin);
  if (normalized === null) return false;
  if (host !== undefined) {
    const own = host.trim().toLowerCase();
    if (normalized === `http://${own}` || normalized === `https://${own}`) return true;
  }
  return allowedOrigins.some((allowed) => normalizeOrigin(allowed) === normalized);
}

/** GET and HEAD only read; every other method changes state and gets the Origin and content-type checks. */
export function isStateChanging(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD';
}

/** `application/json`, with or without parameters such as `; charset=utf-8`. */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  return value.split(';')[0].trim().toLowerCase() === 'application/json';
}
