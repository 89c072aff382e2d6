/** Something that can be released; returned by every event subscription. */
export interface Disposable {
  /** Stops the subscription (or frees the resource). Calling it twice is harmless. */
  dispose(): void;
}
