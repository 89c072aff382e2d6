import type { Context } from 'koa';
import { describe, expect, it } from 'vitest';
import { routeTemplateOf } from './routeTemplate.js';

const contextWith = (fields: Record<string, unknown>) => fields as unknown as Context;

describe('routeTemplateOf', () => {
  it('reads the template @koa/router left in ctx._matchedRoute (a RegExp route as its source text)', () => {
    expect(routeTemplateOf(contextWith({ _matchedRoute: '/orders/:id' }))).toBe('/orders/:id');
    expect(routeTemplateOf(contextWith({ _matchedRoute: /^\/files\/.*$/ }))).toBe(
      '/^\\/files\\/.*$/',
    );
  });

  it('is undefined when no route matched', () => {
    expect(routeTemplateOf(contextWith({}))).toBeUndefined();
  });

  it('falls back to ctx.routerPath only when it is the path of a matched layer, never a raw path', () => {
    const layers = [{ path: '/users/:id' }];
    expect(routeTemplateOf(contextWith({ routerPath: '/users/:id', matched: layers }))).toBe(
      '/users/:id',
    );
    expect(
      routeTemplateOf(contextWith({ routerPath: '/users/42', matched: layers })),
    ).toBeUndefined();
    expect(routeTemplateOf(contextWith({ routerPath: '/users/42' }))).toBeUndefined();
  });
});
