import { circuitBreaker, consecutiveBreaker, retry, timeout, wrap } from 'otel-resilience';

// Each attempt gets 2 s; the breaker opens after 5 consecutive failures and lets a trial call
// through after 30 s; up to 4 attempts, backing off by error category (exponential for resets
// and 5xx, 3^n and never before Retry-After for 429, none for 4xx).
const inventory = wrap(
  { name: 'inventory' },
  retry({ maxAttempts: 4 }),
  circuitBreaker({ name: 'inventory', breaker: consecutiveBreaker(5), halfOpenAfterMs: 30_000 }),
  timeout(2_000),
);

export async function stockLevel(sku: string): Promise<number> {
  return inventory.execute(async ({ signal }) => {
    const res = await fetch(`https://inventory.internal/stock/${sku}`, { signal });
    if (!res.ok) throw Object.assign(new Error('inventory failed'), { status: res.status });
    const body = (await res.json()) as { level: number };
    return body.level;
  });
}
