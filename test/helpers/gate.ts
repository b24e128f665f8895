/**
 * A request the test holds open on purpose: the route calls `entered()` once it has loaded its session and then
 * awaits `released`; the test awaits `inside`, does what must happen meanwhile (a logout, a refresh), then calls
 * `release()`. Races are tested this way, not by hoping for a timing.
 */
export interface Gate {
  release: () => void;
  entered: () => void;
  released: Promise<void>;
  inside: Promise<void>;
}

/** A new, closed gate. */
export function gate(): Gate {
  let release!: () => void;
  let entered!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const inside = new Promise<void>((r) => (entered = r));
  return { release, entered, released, inside };
}
