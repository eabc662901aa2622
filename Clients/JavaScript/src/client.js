// TegataClient: bearer mode with rotating refresh tokens, for games, Capacitor apps, pages that hold
// tokens and Node services. The rules it keeps (docs/javascript.md):
// - one refresh at a time per store: concurrent callers in a page share one, and tabs of an origin
//   share one through Web Locks, then adopt the stored result;
// - transient failures (network, 5xx, 408, 429 with Retry-After) are retried a few times and then
//   reported as `unavailable`; they never sign the user out;
// - a rejected refresh falls back to device sign-in only for the same user, then `signInRequired`;
// - a sign-out wins every race: a renewal that answers afterwards is discarded and its session revoked.
import { TegataClientError, signInRequired, signedOut } from './errors.js';
import { withLock } from './lock.js';
import { MemoryStorage } from './storage.js';

const RECORD_VERSION = 1;
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';

/** @returns {{ v: number, device: any, session: any, signInRequired: boolean, pendingRevocations: string[] }} */
const emptyRecord = () => ({ v: RECORD_VERSION, device: null, session: null, signInRequired: false, pendingRevocations: [] });

const sleep = (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/** The `exp` claim of a JWT in milliseconds, read without checking the signature (only to schedule renewal). */
export function tokenExpiry(token) {
  try {
    const parts = String(token).split('.');
    if (parts.length !== 3 || parts[1].length > 8192) return null;
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
    return typeof claims?.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : null;
  } catch {
    return null;
  }
}

/**
 * When an access token expires on this device's clock: the earlier of `receivedAt + expires_in` and
 * the token's `exp` moved by the skew the response's `Date` header shows (browsers expose `Date` to
 * cross-origin pages only when the server lists it in Access-Control-Expose-Headers; without it,
 * the lifetime alone is used). The earlier one never keeps a token past its end.
 */
export function localExpiry(accessToken, expiresIn, receivedAt, serverDate) {
  const byLifetime = receivedAt + Math.max(Number(expiresIn) || 0, 0) * 1000;
  const exp = tokenExpiry(accessToken);
  if (serverDate == null || exp == null) return byLifetime;
  return Math.min(byLifetime, exp - (serverDate - receivedAt));
}

/** True when less than the margin is left; the margin is at most half the token's lifetime. */
export function needsRenewal(session, now, marginSeconds) {
  const lifetime = Math.max(session.accessExpiresAt - session.receivedAt, 0);
  const margin = Math.min(marginSeconds * 1000, lifetime / 2);
  return now >= session.accessExpiresAt - margin;
}

/** Seconds from a `Retry-After` value (delay-seconds or an HTTP date), or null. */
export function retryAfterSeconds(value, now) {
  if (value == null || value === '') return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text)) return null; // IMF-fixdate only
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max((date - now) / 1000, 0);
}

const hex = (bytes) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');

export class TegataClient {
  #baseURL;
  #storage;
  #storageKey;
  #lockName;
  #fetch;
  #crypto;
  #now;
  #options;
  #locks;
  #record = emptyRecord();
  #ready = null;
  #state = { status: 'unknown', user: null };
  #listeners = new Set();
  #epoch = 0;
  #renewal = null;
  #channel = null;
  #signingOut = 0;

  /**
   * @param {import('../index.js').TegataClientOptions} options
   */
  constructor(options) {
    if (!options || typeof options.baseURL !== 'string') throw new TypeError('TegataClient: baseURL is required');
    const base = new URL(options.baseURL);
    this.#baseURL = base.href.endsWith('/') ? base.href : `${base.href}/`;
    this.#storage = options.storage ?? new MemoryStorage();
    this.#storageKey = options.storageKey ?? `tegata:${base.origin}${base.pathname.replace(/\/$/, '')}`;
    this.#lockName = `${this.#storageKey}:lock`;
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') throw new TypeError('TegataClient: no fetch in this environment; pass options.fetch');
    this.#fetch = (...args) => fetchImpl(...args);
    this.#crypto = options.crypto ?? globalThis.crypto;
    this.#now = options.now ?? (() => Date.now());
    this.#locks = options.locks;
    this.#options = {
      platform: options.platform ?? 'web',
      refreshMargin: options.refreshMargin ?? 60,
      retryDelays: options.retryDelays ?? [250, 1000],
      maximumRetryAfter: options.maximumRetryAfter ?? 5,
      timeout: options.timeout ?? 15_000,
      reauthenticateWithDevice: options.reauthenticateWithDevice ?? true,
      apiOrigins: new Set([base.origin, ...(options.apiOrigins ?? []).map((origin) => new URL(origin).origin)]),
    };
    if (options.broadcast !== false && typeof globalThis.BroadcastChannel === 'function') {
      this.#channel = new BroadcastChannel(this.#lockName.replace(/:lock$/, ':changed'));
      // Another tab wrote the record: read it again, under the lock, so that a read never lands in
      // the middle of this tab's own locked change.
      this.#channel.onmessage = () => {
        this.#locked(async () => {}).catch(() => {});
      };
      // In Node a channel would keep the process alive.
      this.#channel.unref?.();
    }
  }

  // MARK: state

  /** Loads the stored record once; every method waits for it. */
  ready() {
    this.#ready ??= this.#reload().then(() => undefined);
    return this.#ready;
  }

  /** `{ status: 'unknown' | 'signedIn' | 'signedOut' | 'signInRequired', user }`. */
  get state() {
    return { ...this.#state };
  }

  /** The signed-in user (`{ id, anon, created_at }`), or null. */
  get currentUser() {
    return this.#state.user;
  }

  /**
   * Calls `listener(state)` on every change of status or user, in this tab and when another tab
   * sharing the store changed it. Returns a function that unsubscribes.
   */
  onStateChange(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops listening to other tabs. The stored record stays. */
  close() {
    this.#channel?.close();
    this.#channel = null;
  }

  #setState(status, user = null) {
    const previous = this.#state;
    const next = { status, user: user ? { ...user } : null };
    if (previous.status === next.status && JSON.stringify(previous.user) === JSON.stringify(next.user)) return;
    this.#state = next;
    for (const listener of [...this.#listeners]) {
      try {
        listener({ ...next });
      } catch {
        // a listener's failure is the app's; the client's state is already set
      }
    }
  }

  #stateFromRecord() {
    // A sign-out under way has set the state already; the record catches up under the lock.
    if (this.#signingOut > 0) return;
    const { session } = this.#record;
    if (session) this.#setState('signedIn', session.user);
    else this.#setState(this.#record.signInRequired ? 'signInRequired' : 'signedOut');
  }

  /** Reads the record from the store (another tab or process may have written it). */
  async #reload({ quiet = false } = {}) {
    let text;
    try {
      text = await this.#storage.get(this.#storageKey);
    } catch (error) {
      throw new TegataClientError('storage', 'the stored credentials could not be read', { cause: error });
    }
    let record = emptyRecord();
    if (text) {
      try {
        const parsed = JSON.parse(text);
        if (parsed && parsed.v === RECORD_VERSION) record = { ...emptyRecord(), ...parsed };
      } catch {
        // an unreadable record is no record: the user signs in again
      }
    }
    this.#record = record;
    if (!quiet) this.#stateFromRecord();
  }

  async #save() {
    try {
      await this.#storage.set(this.#storageKey, JSON.stringify(this.#record));
    } catch (error) {
      throw new TegataClientError('storage', 'the credentials could not be stored', { cause: error });
    }
    this.#channel?.postMessage('changed');
  }

  /** Runs `body` under the store's lock, on the record as stored (not reentrant). */
  #locked(body, { quiet = false } = {}) {
    return withLock(this.#lockName, async () => {
      await this.#reload({ quiet });
      return body();
    }, this.#locks === undefined ? {} : { locks: this.#locks });
  }

  #check(epoch) {
    if (epoch !== this.#epoch) throw signedOut();
  }

  // MARK: HTTP

  /**
   * One request to Tegata. Never throws: `{ kind: 'success', reply }`, `{ kind: 'rejected', error }`
   * (a 4xx the client must not repeat) or `{ kind: 'transient', error, retryAfter }`.
   */
  async #request(path, { method = 'POST', form, json, accessToken } = {}) {
    const headers = { accept: 'application/json' };
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(Object.entries(form).filter(([, value]) => value != null)).toString();
    } else if (json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(json);
    }
    if (accessToken) headers.authorization = `Bearer ${accessToken}`;
    let response;
    const sentAt = this.#now();
    try {
      response = await this.#fetch(new URL(path.replace(/^\//, ''), this.#baseURL), {
        method, headers, body, credentials: 'omit', redirect: 'error',
        // AbortSignal.timeout is missing before Safari 16 (iOS 15 WebViews): no timeout there rather than no request.
        signal: typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(this.#options.timeout) : undefined,
      });
    } catch (error) {
      return { kind: 'transient', error: new TegataClientError('unavailable', 'the server could not be reached', { cause: error }), retryAfter: null };
    }
    let parsed = null;
    try {
      const text = await response.text();
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    const receivedAt = this.#now();
    const status = response.status;
    if (status >= 200 && status < 300) {
      const date = Date.parse(response.headers.get('date') ?? '');
      return { kind: 'success', reply: { status, body: parsed, headers: response.headers, sentAt, receivedAt, serverDate: Number.isNaN(date) ? null : date } };
    }
    const serverError = parsed && typeof parsed.error === 'string'
      ? { error: parsed.error, ...(typeof parsed.error_description === 'string' ? { error_description: parsed.error_description } : {}) }
      : undefined;
    if (status === 408 || status === 429 || status >= 500) {
      const retryAfter = retryAfterSeconds(response.headers.get('retry-after'), receivedAt);
      const error = new TegataClientError('unavailable', `the server answered ${status}`, { status, serverError, retryAfter: retryAfter ?? undefined });
      return { kind: 'transient', error, retryAfter };
    }
    const description = serverError ? `${serverError.error}${serverError.error_description ? `: ${serverError.error_description}` : ''}` : 'no error body';
    return { kind: 'rejected', error: new TegataClientError('rejected', `the server refused the request (${status}, ${description})`, { status, serverError }) };
  }

  /**
   * Runs `operation`, retrying transient failures with backoff (or the server's `Retry-After` when
   * it is at most `maximumRetryAfter` seconds). Throws `unavailable` once the retries are spent, and
   * `signedOut` when a sign-out happened meanwhile.
   */
  async #attempt(epoch, operation, { retries = true } = {}) {
    const delays = retries ? this.#options.retryDelays : [];
    for (let failures = 0; ; failures += 1) {
      const outcome = await operation();
      if (outcome.kind === 'success') return outcome; // #adopt checks the epoch and revokes what it will not keep
      this.#check(epoch);
      if (outcome.kind === 'rejected') return outcome;
      if (failures >= delays.length) throw outcome.error;
      if (outcome.retryAfter != null && outcome.retryAfter > this.#options.maximumRetryAfter) throw outcome.error;
      const jittered = delays[failures] * (0.5 + Math.random() / 2);
      await sleep(outcome.retryAfter != null ? Math.max(outcome.retryAfter * 1000, jittered) : jittered);
      this.#check(epoch);
    }
  }

  #deviceRequest(device) {
    return this.#request('/v1/auth/device', {
      json: { device_id: device.id, device_secret: device.secret, platform: this.#options.platform },
    });
  }

  /**
   * Revokes a refresh token now; one the server could not be asked about joins the pending
   * revocations. Runs inside the lock.
   */
  async #revokeInsideLock(refreshToken) {
    if (!refreshToken) return;
    const outcome = await this.#request('/oauth/revoke', { form: { token: refreshToken, token_type_hint: 'refresh_token' } });
    if (outcome.kind === 'transient' && !this.#record.pendingRevocations.includes(refreshToken)) {
      this.#record.pendingRevocations.push(refreshToken);
      await this.#save();
    }
  }

  /**
   * Stores a token response as the session, unless a sign-out happened since `epoch`: then the
   * session it opened is revoked and `signedOut` is thrown. Runs inside the lock.
   */
  async #adopt(reply, epoch) {
    const body = reply.body;
    if (!body || typeof body.access_token !== 'string' || typeof body.refresh_token !== 'string' || typeof body.user?.id !== 'string') {
      throw new TegataClientError('invalidResponse', 'the token response lacks access_token, refresh_token or user');
    }
    if (epoch !== this.#epoch) {
      // A late answer after a sign-out: never stored, and its session is ended at once.
      await this.#revokeInsideLock(body.refresh_token);
      throw signedOut();
    }
    const session = {
      accessToken: body.access_token,
      refreshToken: body.refresh_token,
      receivedAt: reply.receivedAt,
      accessExpiresAt: localExpiry(body.access_token, body.expires_in, reply.receivedAt, reply.serverDate),
      user: { id: body.user.id, anon: body.user.anon === true, ...(body.user.created_at ? { created_at: body.user.created_at } : {}) },
    };
    this.#record.session = session;
    this.#record.signInRequired = false;
    await this.#save();
    this.#setState('signedIn', session.user);
    return session;
  }

  // MARK: renewal

  /** Joins the renewal under way in this page, or starts one. */
  #renew(rejecting) {
    if (this.#renewal) return this.#renewal;
    const renewal = this.#performRenewal(this.#epoch, rejecting).finally(() => {
      if (this.#renewal === renewal) this.#renewal = null;
    });
    this.#renewal = renewal;
    return renewal;
  }

  /** Under the lock: a newer stored session → refresh → device sign-in (same user only) → signInRequired. */
  #performRenewal(epoch, rejecting) {
    return this.#locked(async () => {
      this.#check(epoch);
      const session = this.#record.session;
      if (!session) throw this.#record.signInRequired ? signInRequired() : signedOut();
      if (session.refreshToken && session.accessToken !== rejecting && !needsRenewal(session, this.#now(), this.#options.refreshMargin)) {
        return session; // another tab or caller renewed it while this one waited for the lock
      }
      if (session.refreshToken) {
        const outcome = await this.#attempt(epoch, () =>
          this.#request('/oauth/token', { form: { grant_type: 'refresh_token', refresh_token: session.refreshToken } }));
        if (outcome.kind === 'success') return this.#adopt(outcome.reply, epoch);
        // The session ended at the server. Remember it, so that a transient failure below does not
        // make the next call spend the dead token again.
        session.refreshToken = null;
        session.accessExpiresAt = 0;
        await this.#save();
      }
      const device = this.#record.device;
      if (this.#options.reauthenticateWithDevice && device && device.userId === session.user.id) {
        const outcome = await this.#attempt(epoch, () => this.#deviceRequest(device));
        if (outcome.kind === 'success') {
          if (outcome.reply.body?.user?.id === session.user.id) return this.#adopt(outcome.reply, epoch);
          // The device now belongs to a new, empty user (the account was deleted): never switch the
          // app to it silently.
          await this.#revokeInsideLock(outcome.reply.body?.refresh_token);
          this.#check(epoch);
        } else if (outcome.error.meansDeadDeviceCredentials) {
          // The registration was revoked with the session (a logout elsewhere): the device must
          // not undo that.
          this.#record.device = null;
        }
      }
      this.#record.session = null;
      this.#record.signInRequired = true;
      await this.#save();
      this.#setState('signInRequired');
      throw signInRequired();
    });
  }

  /** A valid access token: the stored one, or a renewed one when less than the margin is left. */
  async accessToken() {
    await this.ready();
    const session = this.#record.session;
    if (!session) throw this.#record.signInRequired ? signInRequired() : signedOut();
    if (session.refreshToken && !needsRenewal(session, this.#now(), this.#options.refreshMargin)) return session.accessToken;
    return (await this.#renew(null)).accessToken;
  }

  /** Renews the session now, whatever its access token's age. */
  async refreshSession() {
    await this.ready();
    const session = this.#record.session;
    if (!session) throw this.#record.signInRequired ? signInRequired() : signedOut();
    return (await this.#renew(session.accessToken)).user;
  }

  /**
   * An authorized request to Tegata: one retry after a 401 with a renewed token.
   * @returns {Promise<any>} the parsed body
   */
  async #authorized(path, options = {}, attemptOptions = {}) {
    const epoch = this.#epoch;
    let token = await this.accessToken();
    let outcome = await this.#attempt(epoch, () => this.#request(path, { ...options, accessToken: token }), attemptOptions);
    if (outcome.kind === 'rejected' && outcome.error.status === 401) {
      token = (await this.#renew(token)).accessToken;
      outcome = await this.#attempt(epoch, () => this.#request(path, { ...options, accessToken: token }), attemptOptions);
    }
    if (outcome.kind === 'rejected') throw outcome.error;
    return outcome.reply.body;
  }

  /**
   * `fetch` with the access token, for the app's own APIs: only to Tegata's origin and the
   * `apiOrigins` given at construction (a token never goes anywhere else). After a 401 the token is
   * renewed and the request sent once more, so its body must be one that can be sent twice (a
   * string, Blob, ArrayBuffer, FormData or URLSearchParams, not a stream).
   */
  async fetch(input, init = {}) {
    const url = new URL(typeof input === 'string' || input instanceof URL ? String(input) : input.url, globalThis.location?.href ?? this.#baseURL);
    if (!this.#options.apiOrigins.has(url.origin)) {
      throw new TegataClientError('notAllowed', `access tokens are sent only to ${[...this.#options.apiOrigins].join(', ')}; add the origin to apiOrigins`);
    }
    const send = (token) => {
      const headers = new Headers(init.headers ?? (typeof input === 'object' && 'headers' in input ? input.headers : undefined));
      headers.set('authorization', `Bearer ${token}`);
      return this.#fetch(input, { ...init, headers });
    };
    const token = await this.accessToken();
    const response = await send(token);
    if (response.status !== 401) return response;
    const renewed = await this.#renew(token);
    return send(renewed.accessToken);
  }

  // MARK: sign-in

  #newDevice() {
    if (!this.#crypto?.getRandomValues) throw new TegataClientError('storage', 'no Web Crypto here to make device credentials; pass options.crypto');
    const random = (count) => hex(this.#crypto.getRandomValues(new Uint8Array(count)));
    return { id: `d${random(16)}`, secret: random(32), userId: null };
  }

  async #signIn(operation, { device = null } = {}) {
    await this.ready();
    return this.#locked(async () => {
      const epoch = this.#epoch;
      const previous = this.#record.session;
      const outcome = await this.#attempt(epoch, operation);
      if (outcome.kind === 'rejected') {
        if (device && outcome.error.meansDeadDeviceCredentials && this.#record.device?.id === device.id) {
          // A revoked registration or a wrong secret: these credentials can never sign in again.
          this.#record.device = null;
          await this.#save();
        }
        throw outcome.error;
      }
      const session = await this.#adopt(outcome.reply, epoch);
      if (device && this.#record.device?.id === device.id) {
        this.#record.device.userId = session.user.id;
        await this.#save();
      }
      if (previous?.refreshToken && previous.refreshToken !== session.refreshToken) await this.#revokeInsideLock(previous.refreshToken);
      return session.user;
    });
  }

  /**
   * Signs in with this installation's device credentials, made (Web Crypto) and stored on first
   * use: the first call registers an anonymous user, later ones sign in as it again.
   */
  async signInWithDevice() {
    await this.ready();
    const device = await this.#locked(async () => {
      if (!this.#record.device) {
        this.#record.device = this.#newDevice();
        await this.#save(); // stored before it is first sent, so it is never lost
      }
      return this.#record.device;
    });
    return this.#signIn(() => this.#deviceRequest(device), { device });
  }

  /** Signs in with a provider's ID token (RFC 8693 token exchange). */
  async signInWithIdToken({ provider, idToken, nonce } = {}) {
    if (!provider || !idToken) throw new TypeError('signInWithIdToken: provider and idToken are required');
    return this.#signIn(() => this.#request('/oauth/token', {
      form: { grant_type: TOKEN_EXCHANGE, subject_token: idToken, subject_token_type: ID_TOKEN_TYPE, provider, nonce },
    }));
  }

  /** Links a provider's identity to the signed-in user (an anonymous user becomes permanent). */
  async linkIdentity({ provider, idToken, nonce } = {}) {
    if (!provider || !idToken) throw new TypeError('linkIdentity: provider and idToken are required');
    // Not retried on a transient failure: the app decides whether to link again.
    const me = await this.#authorized('/v1/me/identities', {
      form: { subject_token: idToken, subject_token_type: ID_TOKEN_TYPE, provider, nonce },
    }, { retries: false });
    await this.#updateUser(me);
    return me;
  }

  /** The signed-in user as `GET /v1/me` describes it. */
  async me() {
    const me = await this.#authorized('/v1/me', { method: 'GET' });
    await this.#updateUser(me);
    return me;
  }

  async #updateUser(me) {
    if (!me || typeof me.id !== 'string') return;
    await this.#locked(async () => {
      const session = this.#record.session;
      if (!session || session.user.id !== me.id || session.user.anon === (me.anon === true)) return;
      session.user = { ...session.user, anon: me.anon === true };
      await this.#save();
      this.#setState('signedIn', session.user);
    });
  }

  // MARK: realtime

  /** A Centrifugo connection token: `{ token, expires_in }`. */
  realtimeConnectionToken() {
    return this.#authorized('/v1/realtime/token', { json: {} });
  }

  /** A Centrifugo subscription token for `channel`: `{ token, expires_in }` (403 where the policy refuses). */
  realtimeSubscriptionToken(channel) {
    return this.#authorized('/v1/realtime/subscription-token', { json: { channel } });
  }

  // MARK: sign-out

  /**
   * Signs out. The local state changes at once and wins over any renewal still under way; the
   * server is told afterwards (scope `local`: this session; `global`: every session of the user).
   * A refresh token the server could not be told about stays pending and is revoked by
   * `flushPendingRevocations` or the next sign-in. An anonymous user's device credentials are kept
   * (signing in with the device again returns to the same user); a permanent user's are forgotten.
   */
  async signOut({ scope = 'local' } = {}) {
    if (scope !== 'local' && scope !== 'global') throw new TypeError("signOut: scope is 'local' or 'global'");
    await this.ready();
    this.#epoch += 1;
    this.#renewal = null;
    const known = this.#record.session;
    this.#setState('signedOut');
    this.#signingOut += 1;
    const ending = await this.#locked(async () => {
      // The store may hold a newer refresh token (another tab rotated it): that is the one to end.
      const stored = this.#record.session;
      const session = stored && (!known || stored.user.id === known.user.id) ? stored : known;
      this.#record.session = null;
      this.#record.signInRequired = false;
      if (session && !session.user.anon) this.#record.device = null;
      if (session?.refreshToken) this.#record.pendingRevocations.push(session.refreshToken);
      await this.#save();
      this.#setState('signedOut');
      return session;
    }, { quiet: true }).finally(() => {
      this.#signingOut -= 1;
    });
    if (!ending?.refreshToken) return;
    if (scope === 'global') {
      // Spends the refresh token once more, only for a token to call the logout with.
      const freshToken = async () => {
        const outcome = await this.#request('/oauth/token', { form: { grant_type: 'refresh_token', refresh_token: ending.refreshToken } });
        if (outcome.kind !== 'success') throw outcome.error;
        return outcome.reply.body?.access_token;
      };
      const logout = (token) => this.#request('/v1/logout', { json: { scope: 'global' }, accessToken: token });
      let outcome = await logout(needsRenewal(ending, this.#now(), this.#options.refreshMargin) ? await freshToken() : ending.accessToken);
      if (outcome.kind === 'rejected' && outcome.error.status === 401) outcome = await logout(await freshToken());
      if (outcome.kind !== 'success') throw outcome.error;
      await this.#locked(async () => {
        this.#record.pendingRevocations = this.#record.pendingRevocations.filter((pending) => pending !== ending.refreshToken);
        await this.#save();
      });
      return;
    }
    await this.flushPendingRevocations();
  }

  /** Ends every other session of the user; this one stays. */
  async signOutOtherSessions() {
    await this.#authorized('/v1/logout', { json: { scope: 'others' } });
  }

  /** Deletes the account at the server, then forgets every credential, device credentials included. */
  async deleteAccount() {
    await this.#authorized('/v1/me', { method: 'DELETE' });
    this.#epoch += 1;
    this.#renewal = null;
    await this.#locked(async () => {
      this.#record.session = null;
      this.#record.device = null;
      this.#record.signInRequired = false;
      await this.#save();
    });
    this.#setState('signedOut');
  }

  /**
   * Revokes the refresh tokens of earlier sign-outs that the server could not be told about. A token
   * the server answered for (revoked, or refused) is forgotten; one it could not be asked about stays.
   * Throws `unavailable` when the server could not be reached.
   */
  async flushPendingRevocations() {
    await this.ready();
    await this.#locked(async () => {
      for (const refreshToken of [...this.#record.pendingRevocations]) {
        const outcome = await this.#request('/oauth/revoke', { form: { token: refreshToken, token_type_hint: 'refresh_token' } });
        if (outcome.kind === 'transient') {
          await this.#save();
          throw outcome.error;
        }
        this.#record.pendingRevocations = this.#record.pendingRevocations.filter((pending) => pending !== refreshToken);
      }
      await this.#save();
    });
  }

  /** The number of refresh tokens waiting to be revoked (for diagnostics). */
  get pendingRevocationCount() {
    return this.#record.pendingRevocations.length;
  }
}
