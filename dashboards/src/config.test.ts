import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, resolveConfig } from './config.js';

describe('resolveConfig', () => {
  it('fills every field with the documented defaults', () => {
    expect(resolveConfig()).toEqual({
      datasourceInput: 'DS_PROMETHEUS',
      datasourceLabel: 'Prometheus',
      naming: 'otel-js',
      selector: '',
      failureRate: { warning: 0.2, critical: 0.5 },
      poolUsageWarning: 0.8,
      uidPrefix: 'otel-resilience',
      titlePrefix: 'otel-resilience',
      tags: ['otel-resilience'],
      timeRange: '1h',
      refresh: '30s',
    });
    expect(resolveConfig({})).toEqual(DEFAULT_CONFIG);
  });

  it('keeps the failure-rate defaults of the seeds (20% warning, 50% critical)', () => {
    // The alert rules in alerts/ have their own config with the same defaults.
    expect(DEFAULT_CONFIG.failureRate).toEqual({ warning: 0.2, critical: 0.5 });
  });

  it('merges a partial failure-rate override with the defaults', () => {
    expect(resolveConfig({ failureRate: { warning: 0.1 } }).failureRate).toEqual({
      warning: 0.1,
      critical: 0.5,
    });
  });

  it('accepts the collector naming, an extra selector and other prefixes', () => {
    const config = resolveConfig({
      naming: 'collector',
      selector: 'cluster="prod", namespace=~"shop-.*",',
      uidPrefix: 'shop',
      refresh: '',
    });
    expect(config.naming).toBe('collector');
    expect(config.selector).toBe('cluster="prod", namespace=~"shop-.*",');
    expect(config.refresh).toBe('');
  });

  it.each([
    [{ naming: 'prometheus' }, /naming must be one of "otel-js", "collector"; got "prometheus"/],
    [{ datasourceInput: 'ds-prom' }, /datasourceInput must be upper-case/],
    [{ selector: '{cluster="prod"}' }, /selector must be comma-separated PromQL label matchers/],
    [{ selector: 'cluster=prod' }, /selector must be/],
    [{ failureRate: { warning: 0.6 } }, /failureRate must be warning lower than critical/],
    [
      { failureRate: { critical: 1.5 } },
      /failureRate.critical must be a number in \(0, 1\]; got 1.5/,
    ],
    [{ failureRate: { warning: 0 } }, /failureRate.warning must be a number in \(0, 1\]/],
    [{ failureRate: 0.2 }, /failureRate must be an object/],
    [{ poolUsageWarning: 80 }, /poolUsageWarning must be a number in \(0, 1\]; got 80/],
    [{ uidPrefix: 'a-very-long-prefix-for-uids' }, /uidPrefix must be .* at most 18 characters/],
    [{ uidPrefix: 'has space' }, /uidPrefix must be/],
    [{ tags: 'otel' }, /tags must be an array of strings/],
    [{ tags: [''] }, /tags must be non-empty strings/],
    [{ timeRange: '1 hour' }, /timeRange must be a duration/],
    [{ refresh: 'often' }, /refresh must be a duration .* or "" for none/],
    [{ colour: 'red' }, /unknown field "colour"/],
  ])('rejects %j with a message naming the field', (input, message) => {
    expect(() => resolveConfig(input as never)).toThrow(message);
  });

  it('rejects what is not an object', () => {
    expect(() => resolveConfig([] as never)).toThrow(/expected an object, got \[\]/);
  });
});
