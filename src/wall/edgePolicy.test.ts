import { describe, expect, it } from 'vitest';
import { hostAllowed, hostName, isJsonContentType, isLoopbackAddress, isStateChanging, originAllowed, parseRequestTarget } from './edgePolicy.js';

describe('parseRequestTarget', () => {
  it('splits an origin-form target without decoding or normalizing it', () => {
    const t = parseRequestTarget('/ws?token=a%20b&x=1');
    expect(t?.path).toBe('/ws');
    expect(t?.query.get('token')).toBe('a b');
    expect(parseRequestTarget('/assets/../../package.json')?.path).toBe('/assets/../../package.json');
  });

  it('refuses, never throws on, what new URL() chokes on and what is not origin-form', () => {
    for (const bad of ['//[', 'http://x/', '*', '', 'ws', '/a b', '/\u0000', '/é', undefined, `/${'a'.repeat(9_000)}`]) {
      expect(parseRequestTarget(bad), String(bad)).toBeNull();
    }
    expect(parseRequestTarget('/x?%zz=%')?.query.get('%zz')).toBe('%');
  });
});

describe('loopback and Host', () => {
  it('knows loopback bind addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', 'wall.localhost', '::ffff:127.0.0.1']) expect(isLoopbackAddress(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', 'localhost.example.com', '127.0.0.1.nip.io']) expect(isLoopbackAddress(h), h).toBe(false);
  });

  it('reads the host name of a Host header', () => {
    expect(hostName('Example.COM:8080')).toBe('example.com');
    expect(hostName('[::1]:8080')).toBe('::1');
    expect(hostName('wall.example.com.')).toBe('wall.example.com');
    for (const bad of ['', '[::1', 'a b', 'x:port', '[zz]:1', 'a/b']) expect(hostName(bad), bad).toBeNull();
  });

  it('serves only loopback names while bound to loopback, unless listed (DNS rebinding)', () => {
    const loopback = { boundToLoopback: true, allowedHosts: ['wall.internal'] };
    for (const h of ['127.0.0.1:8080', 'localhost:8080', 'a.localhost', '[::1]:9', 'wall.internal:8080', undefined]) expect(hostAllowed(h, loopback), String(h)).toBe(true);
    for (const h of ['evil.example:8080', '10.0.0.1:8080', 'rebind.127.0.0.1.nip.io', 'bad host']) expect(hostAllowed(h, loopback), h).toBe(false);
    expect(hostAllowed('anything.example', { boundToLoopback: false, allowedHosts: [] })).toBe(true);
    expect(hostAllowed('anything.example', { boundToLoopback: false, allowedHosts: ['wall.example'] })).toBe(false);
    expect(hostAllowed('127.0.0.1:8080', { boundToLoopback: false, allowedHosts: ['wall.example'] })).toBe(true);
  });
});

describe('Origin and content type', () => {
  it("allows the wall's own origin, listed ones and clients without Origin", () => {
    expect(originAllowed(undefined, '127.0.0.1:8080', [])).toBe(true);
    expect(originAllowed('http://127.0.0.1:8080', '127.0.0.1:8080', [])).toBe(true);
    expect(originAllowed('https://Wall.Example', 'wall.example', [])).toBe(true);
    expect(originAllowed('https://ops.example', 'wall.example', ['https://ops.example/'])).toBe(true);
    for (const bad of ['https://evil.example', 'null', 'http://127.0.0.1:8081', 'http://127.0.0.1:8080.evil.example', 'file://', '']) {
      expect(originAllowed(bad, '127.0.0.1:8080', []), bad).toBe(false);
    }
  });

  it('treats everything but GET and HEAD as a state change, and wants application/json', () => {
    expect(['GET', 'HEAD'].map(isStateChanging)).toEqual([false, false]);
    expect(['POST', 'DELETE', 'PUT', 'OPTIONS', 'PATCH'].every(isStateChanging)).toBe(true);
    expect(isJsonContentType('application/json; charset=utf-8')).toBe(true);
    expect(isJsonContentType('Application/JSON')).toBe(true);
    for (const bad of [undefined, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/json-patch+json']) expect(isJsonContentType(bad), String(bad)).toBe(false);
  });
});
