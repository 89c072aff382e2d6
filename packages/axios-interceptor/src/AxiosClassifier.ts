import { Classifier, defaultClassifier } from 'otel-resilience';
import { AXIOS_RULES } from './axiosErrorRules.js';

/**
 * The classifier of one attached Axios instance. Its rules — those added with `addRule` (newest
 * first), then the adapter's Axios rules — are tried on every error of the `cause` chain; when
 * none matches, the `fallback` classifier decides (default `defaultClassifier`, so rules an
 * application registered there, and the engine's built-in HTTP-status, Retry-After and
 * network-code rules, still apply). The global `defaultClassifier` is never modified.
 */
export class AxiosClassifier extends Classifier {
  constructor(fallback: Classifier = defaultClassifier) {
    super({ rules: AXIOS_RULES, builtinRules: false, fallback });
  }
}
