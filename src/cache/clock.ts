// Where the cache reads the time: the wall clock in production, a movable one in tests.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
