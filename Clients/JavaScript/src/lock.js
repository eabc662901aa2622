// One holder at a time for a name: across the tabs of an origin with Web Locks
// (navigator.locks), within one JavaScript realm (a Node process, a page without Web Locks) with a
// promise chain. Not reentrant: a body must not take the same lock again.

/** @type {Map<string, Promise<unknown>>} */
const chains = new Map();

/**
 * Runs `body` while holding the lock `name`.
 * @template T
 * @param {string} name
 * @param {() => Promise<T>} body
 * @param {{ locks?: { request: Function } | null }} [options] `locks: null` forces the in-realm lock
 * @returns {Promise<T>}
 */
export function withLock(name, body, options = {}) {
  const locks = options.locks === undefined ? globalThis.navigator?.locks : options.locks;
  if (locks && typeof locks.request === 'function') {
    return locks.request(name, { mode: 'exclusive' }, () => body());
  }
  const previous = chains.get(name) ?? Promise.resolve();
  const run = previous.then(() => body(), () => body());
  const settled = run.then(() => undefined, () => undefined);
  chains.set(name, settled);
  settled.then(() => {
    if (chains.get(name) === settled) chains.delete(name);
  });
  return run;
}
