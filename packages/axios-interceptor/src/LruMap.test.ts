import { BoundedLabels } from 'otel-resilience';
import { describe, expect, it } from 'vitest';
import { LruMap } from './LruMap.js';
import { targetOf } from './target.js';

describe('LruMap', () => {
  it('evicts the least recently used entry past its capacity', () => {
    const evicted: string[] = [];
    const map = new LruMap<string, number>(2, (key) => evicted.push(key));
    map.set('a', 1);
    map.set('b', 2);
    expect(map.get('a')).toBe(1);
    map.set('c', 3);
    expect(evicted).toEqual(['b']);
    expect([...map.entries()]).toEqual([
      ['a', 1],
      ['c', 3],
    ]);
    map.clear();
    expect(evicted).toEqual(['b', 'a', 'c']);
    expect(map.size).toBe(0);
  });
});

describe('BoundedLabels', () => {
  it('reports the first values as they are and later ones as _OTHER', () => {
    const labels = new BoundedLabels(2);
    expect(['a', 'b', 'c', 'a', 'b'].map((v) => labels.label(v))).toEqual([
      'a',
      'b',
      '_OTHER',
      'a',
      'b',
    ]);
  });
});

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
