import { BoundedLabels } from 'otel-resilience';
import { describe, expect, it } from 'vitest';
import { LruMap } from './LruMap.js';

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

  it('keeps the order right when the most recent entry is read again', () => {
    const evicted: string[] = [];
    const map = new LruMap<string, number>(2, (key) => evicted.push(key));
    map.set('a', 1);
    map.set('b', 2);
    expect(map.get('b')).toBe(2);
    expect(map.get('a')).toBe(1);
    expect(map.get('a')).toBe(1);
    map.set('c', 3);
    expect(evicted).toEqual(['b']);
    expect(map.get('c')).toBe(3);
    map.set('d', 4);
    expect(evicted).toEqual(['b', 'a']);
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
