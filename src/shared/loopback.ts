// Whether an address only this machine can reach: shared by config validation (wall.host) and the wall's Host check.
import { isIPv4, isIPv6 } from 'node:net';

/** 127.0.0.0/8, ::1 (also IPv4-mapped 127.x), `localhost` and `*.localhost`; brackets around IPv6 are ignored. */
export function isLoopbackAddress(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (isIPv6(h)) {
    if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && mapped[1].startsWith('127.');
  }
  return false;
}
