/** Placeholder type replaced by the retry-budget implementation in this same change. */
export interface RetryBudget {
  readonly name: string;
}
