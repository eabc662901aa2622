// WebSession: the cookie mode of docs/web.md for pages. The session lives in Tegata's HttpOnly
// cookie; the page never stores a token. The rules it keeps:
// - the cookie is kept alive with `GET /v1/session` when the page gains focus or becomes visible,
//   and on an interval while it is visible (paused while hidden);
// - on a 401, at most one silent recovery (a fresh provider ID token from the app's callback, e.g.
//   LIFF's getIDToken()), then "sign-in required" is reported once and the session stops asking —
//   never a loop, never a redirect of its own;
// - transient failures (network, 5xx, 408, 429) change nothing: the next check tries again.
import { TegataClientError } from './errors.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';

export class WebSession {
  #baseURL;
  #fetch;
  #window;
  #document;
  #options;
  #state = { status: 'unknown', user: null, expiresAt: null };
  #listeners = new Set();
  #recoveryUsed = false;
  #page = null; // { token, receivedAt, expiresAt }: the page's access token, in memory only
  #running = false;
  #timer = null;
  #checking = null;
  #detach = [];

  /**
   * @param {{ baseURL: string, provider?: string, getIdToken?: () => Promise<string | null> | string | null,
   *   keepAliveInterval?: number, fetch?: typeof fetch, window?: any, document?: any }} options
   */
  constructor(options) {
    if (!options || typeof options.baseURL !== 'string') throw new TypeError('WebSession: baseURL is required');
    const base = new URL(options.baseURL);
    this.#baseURL = base.href.endsWith('/') ? base.href : `${base.href}/`;
    const fetchImpl = options.fetch ?? globalThis.fetch;
    this.#fetch = (...args) => fetchImpl(...args);
    this.#window = options.window ?? globalThis.window;
    this.#document = options.document ?? globalThis.document;
    this.#options = {
      provider: options.provider ?? null,
      getIdToken: options.getIdToken ?? null,
      keepAliveInterval: options.keepAliveInterval ?? 300,
    };
  }

  /** `{ status: 'unknown' | 'signedIn' | 'signedOut' | 'signInRequired', user, expiresAt }`. */
  get state() {
    return { ...this.#state };
  }

  /** Calls `listener(state)` on every change; returns a function that unsubscribes. */
  onStateChange(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #setState(status, user = null, expiresAt = null) {
    const previous = this.#state;
    const next = { status, user: user ? { ...user } : null, expiresAt };
    if (previous.status === next.status && JSON.stringify(previous.user) === JSON.stringify(next.user)) {
      this.#state = next; // a renewed expiry is not a change of state
      return;
    }
    this.#state = next;
    for (const listener of [...this.#listeners]) {
      try {
        listener({ ...next });
      } catch {
        // the app's listener failed; the state is set
      }
    }
  }

  async #call(path, init) {
    try {
      const response = await this.#fetch(new URL(path.replace(/^\//, ''), this.#baseURL), { credentials: 'include', redirect: 'error', ...init });
      const text = await response.text();
      let body = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = null;
      }
      return { status: response.status, body };
    } catch (error) {
      return { status: 0, body: null, error };
    }
  }

  static #transient(status) {
    return status === 0 || status === 408 || status === 429 || status >= 500;
  }

  /**
   * Reads the session once now and then keeps it alive: on focus, on becoming visible, and every
   * `keepAliveInterval` seconds while visible. Resolves with the state after the first read.
   */
  async start() {
    if (!this.#running) {
      this.#running = true;
      const onWake = () => {
        if (this.#visible()) {
          this.#schedule();
          this.check().catch(() => {});
        } else {
          this.#unschedule(); // paused while hidden
        }
      };
      if (this.#window?.addEventListener) {
        this.#window.addEventListener('focus', onWake);
        this.#detach.push(() => this.#window.removeEventListener('focus', onWake));
      }
      if (this.#document?.addEventListener) {
        this.#document.addEventListener('visibilitychange', onWake);
        this.#detach.push(() => this.#document.removeEventListener('visibilitychange', onWake));
      }
      this.#schedule();
    }
    await this.check();
    return this.state;
  }

  /** Stops keeping the session alive (listeners and interval). The cookie stays. */
  stop() {
    this.#running = false;
    this.#unschedule();
    for (const detach of this.#detach.splice(0)) detach();
  }

  #visible() {
    return this.#document?.visibilityState === undefined || this.#document.visibilityState === 'visible';
  }

  #schedule() {
    if (!this.#running || this.#timer || !this.#visible()) return;
    this.#timer = setInterval(() => this.check().catch(() => {}), this.#options.keepAliveInterval * 1000);
    this.#timer.unref?.();
  }

  #unschedule() {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /**
   * `GET /v1/session`: renews the cookie (sliding expiry) and reads the user. Once sign-in is
   * required it asks nothing more until the app signs in again.
   */
  check() {
    if (this.#state.status === 'signInRequired' || this.#state.status === 'signedOut') return Promise.resolve(this.state);
    this.#checking ??= (async () => {
      const answer = await this.#call('/v1/session', { method: 'GET' });
      if (answer.status === 200 && answer.body?.user) {
        this.#keepPageToken(answer.body);
        this.#setState('signedIn', answer.body.user, answer.body.expires_at ?? null);
      } else if (answer.status === 401) {
        this.#page = null;
        await this.#recover();
      }
      // Anything else is transient or unexpected: the state stays, the next check tries again.
      return this.state;
    })().finally(() => {
      this.#checking = null;
    });
    return this.#checking;
  }

  /** One silent recovery with the app's ID-token callback; then sign-in is required, once. */
  async #recover() {
    if (!this.#recoveryUsed && this.#options.getIdToken && this.#options.provider) {
      this.#recoveryUsed = true;
      try {
        const idToken = await this.#options.getIdToken();
        if (idToken) {
          await this.#open({ provider: this.#options.provider, idToken }, { silent: true });
          return;
        }
      } catch {
        // the provider could not give a token, or Tegata refused it: sign-in is required
      }
    }
    this.#unschedule();
    this.#setState('signInRequired');
  }

  /** Exchanges an ID token and opens the cookie session with the access token it gives. */
  async #open({ provider, idToken, nonce }, { silent = false } = {}) {
    const form = new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: idToken, subject_token_type: ID_TOKEN_TYPE, provider });
    if (nonce) form.set('nonce', nonce);
    const exchanged = await this.#call('/oauth/token', {
      method: 'POST', credentials: 'omit', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(),
    });
    if (exchanged.status !== 200 || typeof exchanged.body?.access_token !== 'string') throw this.#error('the ID token was not accepted', exchanged);
    // The refresh token is dropped here: the cookie is the session; the page keeps no token.
    return this.#setCookie(exchanged.body.access_token, { silent });
  }

  #error(message, answer) {
    const serverError = typeof answer.body?.error === 'string' ? { error: answer.body.error } : undefined;
    if (WebSession.#transient(answer.status)) return new TegataClientError('unavailable', `${message} (the server could not be reached or answered ${answer.status})`, { status: answer.status || undefined, serverError });
    return new TegataClientError('rejected', `${message} (${answer.status}${serverError ? `, ${serverError.error}` : ''})`, { status: answer.status, serverError });
  }

  /** Signs in with a provider's ID token (LINE, Apple, Google, OIDC) and opens the cookie session. */
  async signIn({ provider, idToken, nonce } = {}) {
    if (!provider || !idToken) throw new TypeError('signIn: provider and idToken are required');
    return this.#open({ provider, idToken, nonce });
  }

  /** Opens the cookie session with an access token the page obtained (`POST /v1/session`). */
  signInWithAccessToken(accessToken) {
    return this.#setCookie(accessToken, { silent: false });
  }

  /**
   * `POST /v1/session`. A sign-in by the app allows one silent recovery again; the silent
   * recovery itself does not, so a session that keeps dying cannot make it recover in a loop.
   */
  async #setCookie(accessToken, { silent }) {
    const answer = await this.#call('/v1/session', { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } });
    if (answer.status !== 200 && answer.status !== 201) throw this.#error('the session cookie could not be set', answer);
    if (!silent) this.#recoveryUsed = false;
    this.#keepPageToken(answer.body);
    this.#setState('signedIn', answer.body?.user ?? null, answer.body?.expires_at ?? null);
    this.#schedule();
    return this.state;
  }

  #keepPageToken(body) {
    if (typeof body?.access_token !== 'string') return;
    const receivedAt = Date.now();
    this.#page = { token: body.access_token, receivedAt, expiresAt: receivedAt + Math.max(Number(body.expires_in) || 0, 0) * 1000 };
  }

  /**
   * An access token of the cookie's session for the page's own APIs (kept in memory only): the one
   * the last read gave while more than 30 s (at most half its lifetime) is left, else a new one
   * from `GET /v1/session`. Throws `signInRequired` when there is no session.
   */
  async accessToken() {
    const page = this.#page;
    const margin = page ? Math.min(30_000, (page.expiresAt - page.receivedAt) / 2) : 0;
    if (page && this.#state.status === 'signedIn' && Date.now() < page.expiresAt - margin) return page.token;
    if (this.#state.status === 'signedOut') throw new TegataClientError('signedOut', 'signed out');
    await this.check();
    if (this.#state.status !== 'signedIn' || !this.#page) {
      throw new TegataClientError(this.#state.status === 'signInRequired' ? 'signInRequired' : 'unavailable', 'no access token: the session could not be read');
    }
    return this.#page.token;
  }

  /**
   * Ends the session and clears the cookie. `local` (the default) is `DELETE /v1/session`;
   * `global` ends every session of the user and `others` every other one (`POST /v1/logout` with
   * the cookie). Both are CSRF-checked by the page's Origin.
   */
  async signOut({ scope = 'local' } = {}) {
    if (!['local', 'global', 'others'].includes(scope)) throw new TypeError("signOut: scope is 'local', 'global' or 'others'");
    const answer = scope === 'local'
      ? await this.#call('/v1/session', { method: 'DELETE' })
      : await this.#call('/v1/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ scope }) });
    if (scope === 'others' && answer.status === 204) return;
    this.#page = null;
    this.#unschedule();
    this.#setState('signedOut');
    if (answer.status !== 204 && answer.status !== 200 && answer.status !== 401) throw this.#error('the session could not be ended', answer);
  }
}
