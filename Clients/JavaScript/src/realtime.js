// Centrifugo tokens for one account (one TegataClient), cached until a margin before their expiry.
// A process that serves several accounts makes one TegataClient (with its own storage key) and one
// RealtimeTokens per account, so no account is ever handed another's token.
//
// With centrifuge-js:
//   const tokens = new RealtimeTokens(client);
//   new Centrifuge(url, { getToken: tokens.connectionTokenGetter });
//   centrifuge.newSubscription(channel, { getToken: tokens.subscriptionTokenGetter(channel) });
// Centrifuge asks its getToken for a token when it connects, before the token expires and after the
// server refused one; a getter therefore never hands the same token out twice: a second request
// means the first is no longer good, and a fresh one is fetched.

export class RealtimeTokens {
  #client;
  #margin;
  #now;
  #cache = new Map(); // key → { token, receivedAt, expiresAt, userId, handedOut }
  #inFlight = new Map();
  #unsubscribe;

  /**
   * @param {import('./client.js').TegataClient} client
   * @param {{ margin?: number, now?: () => number }} [options] margin in seconds (default 300,
   *   at most half the token's lifetime)
   */
  constructor(client, options = {}) {
    this.#client = client;
    this.#margin = options.margin ?? 300;
    this.#now = options.now ?? (() => Date.now());
    // A sign-out, a sign-in as someone else or a session that ended: no cached token survives it.
    this.#unsubscribe = client.onStateChange((state) => {
      const userId = state.user?.id ?? null;
      for (const [key, entry] of this.#cache) if (entry.userId !== userId) this.#cache.delete(key);
    });
  }

  /** Drops every cached token (or the one for `channel`: null for the connection token). */
  invalidate(channel) {
    if (channel === undefined) this.#cache.clear();
    else this.#cache.delete(channel === null ? 'connection' : `channel:${channel}`);
  }

  /** Stops following the client's state. */
  close() {
    this.#unsubscribe();
    this.#cache.clear();
  }

  /** A connection token, from the cache while it has more than the margin left. */
  connectionToken() {
    return this.#token('connection', () => this.#client.realtimeConnectionToken(), false);
  }

  /** A subscription token for `channel`, cached the same way. */
  subscriptionToken(channel) {
    if (typeof channel !== 'string' || channel === '') throw new TypeError('subscriptionToken: a channel is required');
    return this.#token(`channel:${channel}`, () => this.#client.realtimeSubscriptionToken(channel), false);
  }

  /** Centrifuge's `getToken` for the connection. */
  get connectionTokenGetter() {
    return () => this.#token('connection', () => this.#client.realtimeConnectionToken(), true);
  }

  /** Centrifuge's `getToken` for a subscription to `channel`. */
  subscriptionTokenGetter(channel) {
    return () => this.#token(`channel:${channel}`, () => this.#client.realtimeSubscriptionToken(channel), true);
  }

  #fresh(entry) {
    if (!entry || entry.userId !== (this.#client.currentUser?.id ?? null)) return false;
    const lifetime = entry.expiresAt - entry.receivedAt;
    return this.#now() < entry.expiresAt - Math.min(this.#margin * 1000, lifetime / 2);
  }

  async #token(key, fetchToken, forGetter) {
    const cached = this.#cache.get(key);
    if (this.#fresh(cached) && !(forGetter && cached.handedOut)) {
      if (forGetter) cached.handedOut = true;
      return cached.token;
    }
    // One request per key at a time, shared by the callers that ask meanwhile.
    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = (async () => {
        const receivedAt = this.#now();
        const userId = this.#client.currentUser?.id ?? null;
        const answer = await fetchToken();
        if (!answer || typeof answer.token !== 'string') throw new TypeError('the realtime token response lacks a token');
        const entry = { token: answer.token, receivedAt, expiresAt: receivedAt + Math.max(Number(answer.expires_in) || 0, 0) * 1000, userId, handedOut: false };
        if (userId === (this.#client.currentUser?.id ?? null)) this.#cache.set(key, entry);
        return entry;
      })().finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    const entry = await pending;
    if (forGetter) entry.handedOut = true;
    return entry.token;
  }
}
