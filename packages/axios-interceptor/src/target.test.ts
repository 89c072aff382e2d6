import { describe, expect, it } from 'vitest';
import { requestTarget, targetOf } from './target.js';

describe('targetOf', () => {
  it.each([
    [
      'https://api.example.com/x?token=1',
      { hostname: 'api.example.com', port: undefined, key: 'api.example.com' },
    ],
    [
      'http://API.example.com:8080/x',
      { hostname: 'api.example.com', port: 8080, key: 'api.example.com:8080' },
    ],
    ['http://user:pw@host.test:80/', { hostname: 'host.test', port: undefined, key: 'host.test' }],
    ['http://[::1]:3000/', { hostname: '::1', port: 3000, key: '[::1]:3000' }],
  ])('%s → host, port and key, nothing else', (url, target) => {
    expect(targetOf(url)).toEqual(target);
  });

  it.each(['/relative', 'data:text/plain,hi', 'not a url'])('%s has no target', (url) => {
    expect(targetOf(url)).toBeUndefined();
  });
});

describe('requestTarget', () => {
  it.each([
    [{ url: 'https://api.example.com/x?token=1' }, 'api.example.com'],
    [{ baseURL: 'http://base.test:8080/v1', url: '/users/1' }, 'base.test:8080'],
    [{ baseURL: 'http://base.test/', url: 'http://other.test/x' }, 'other.test'],
    [
      { baseURL: 'http://base.test/', url: 'http://other.test/x', allowAbsoluteUrls: false },
      'base.test',
    ],
    [{ baseURL: 'http://base.test' }, 'base.test'],
    [{ url: 'HTTPS://User:Secret@API.Example.com:443/x' }, 'api.example.com'],
    [{ url: '  http://padded.test/x' }, 'padded.test'],
    [{ url: 'http://no-path.test:81' }, 'no-path.test:81'],
    [{ url: 'https://q.test?x=http://other.test' }, 'q.test'],
  ])('%o goes to %s, as Axios resolves it', (config, key) => {
    expect(requestTarget(config)?.key).toBe(key);
  });

  it.each([
    [{ url: '/relative' }],
    [{ url: '//protocol-relative.test/x' }],
    [{ baseURL: '/api', url: '/x' }],
    [{ url: 'data:text/plain,hi' }],
    [{ url: '/redirect?next=http://other.test/' }],
    [{ url: 'ftp://files.test/x' }],
    [{}],
  ])('%o has no target', (config) => {
    expect(requestTarget(config)).toBeUndefined();
  });

  it('answers a repeated origin with the same target object (parsed once)', () => {
    const first = requestTarget({ url: 'http://cached.test/a?x=1' });
    expect(requestTarget({ url: 'http://cached.test/b' })).toBe(first);
  });
});
