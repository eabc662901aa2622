// Types of @tegata/client, kept in step with src/ by hand (docs/javascript.md lists the API).

export type TegataClientErrorCode =
  | 'signInRequired'
  | 'signedOut'
  | 'unavailable'
  | 'rejected'
  | 'storage'
  | 'invalidResponse'
  | 'notAllowed';

export interface ServerError {
  error: string;
  error_description?: string;
}

export class TegataClientError extends Error {
  constructor(code: TegataClientErrorCode, message: string, details?: { status?: number; serverError?: ServerError; retryAfter?: number; cause?: unknown });
  readonly code: TegataClientErrorCode;
  /** The HTTP status, when the server answered. */
  readonly status?: number;
  /** The server's error body (`{"error", "error_description"}`). */
  readonly serverError?: ServerError;
  /** Seconds, from `Retry-After`. */
  readonly retryAfter?: number;
  /** True for a 401 `invalid_grant` on device sign-in: the credentials can never sign in again. */
  readonly meansDeadDeviceCredentials: boolean;
}

/** Where the client keeps its record: three async methods over strings. */
export interface TegataStorage {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  remove(key: string): Promise<void>;
}

export class MemoryStorage implements TegataStorage {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  remove(key: string): Promise<void>;
}

export class LocalStorageStorage implements TegataStorage {
  constructor(storage?: Storage);
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  remove(key: string): Promise<void>;
}

export class IndexedDBStorage implements TegataStorage {
  constructor(options?: { database?: string; store?: string; indexedDB?: IDBFactory });
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  remove(key: string): Promise<void>;
}

export interface TegataUser {
  id: string;
  anon: boolean;
  created_at?: string;
}

export type TegataStatus = 'unknown' | 'signedIn' | 'signedOut' | 'signInRequired';

export interface TegataState {
  status: TegataStatus;
  user: TegataUser | null;
}

export interface TegataClientOptions {
  /** Tegata's base URL, e.g. `https://auth.example.com`. */
  baseURL: string;
  /** Default: MemoryStorage. */
  storage?: TegataStorage;
  /** Default: `tegata:` + the base URL. One key per account when a process serves several. */
  storageKey?: string;
  /** Sent with device sign-in. Default `web`. */
  platform?: string;
  /** Origins (besides Tegata's) that `fetch` may send the access token to. */
  apiOrigins?: string[];
  /** Seconds before expiry at which a token is renewed (at most half its lifetime). Default 60. */
  refreshMargin?: number;
  /** Waits before each retry of a transient failure, in ms. Default [250, 1000]. */
  retryDelays?: number[];
  /** Longest `Retry-After` (s) waited for; a longer one is reported as `unavailable`. Default 5. */
  maximumRetryAfter?: number;
  /** Per request, ms. Default 15000. */
  timeout?: number;
  /** Sign in again with the stored device when the session ended (same user only). Default true. */
  reauthenticateWithDevice?: boolean;
  /** Tell other tabs through a BroadcastChannel. Default true where BroadcastChannel exists. */
  broadcast?: boolean;
  /** Web Locks (`navigator.locks`) or null for an in-page lock. Default: navigator.locks if present. */
  locks?: { request: (...args: any[]) => Promise<any> } | null;
  fetch?: typeof globalThis.fetch;
  crypto?: { getRandomValues<T extends ArrayBufferView | null>(array: T): T };
  /** The clock, ms since 1970. */
  now?: () => number;
}

export interface MeResponse {
  id: string;
  anon: boolean;
  created_at: string;
  identities: { provider: string; subject: string }[];
  ent?: Record<string, true | { expires_at: number }>;
  [claim: string]: unknown;
}

export interface RealtimeTokenResponse {
  token: string;
  expires_in: number;
}

export interface IdTokenSignIn {
  /** A provider name configured at the server (`apple`, `line`, `google`, …). */
  provider: string;
  idToken: string;
  /** The raw nonce, where the provider's configuration requires one. */
  nonce?: string;
}

export class TegataClient {
  constructor(options: TegataClientOptions);
  /** Loads the stored record; every method waits for it. */
  ready(): Promise<void>;
  readonly state: TegataState;
  readonly currentUser: TegataUser | null;
  /** Called on every change of status or user (also when another tab changed it). Returns an unsubscribe function. */
  onStateChange(listener: (state: TegataState) => void): () => void;
  /** Stops listening to other tabs. */
  close(): void;
  signInWithDevice(): Promise<TegataUser>;
  signInWithIdToken(options: IdTokenSignIn): Promise<TegataUser>;
  linkIdentity(options: IdTokenSignIn): Promise<MeResponse>;
  /** A valid access token, renewed when less than the margin is left. */
  accessToken(): Promise<string>;
  /** Renews the session now. */
  refreshSession(): Promise<TegataUser>;
  /** `fetch` with the access token, to Tegata and `apiOrigins` only; one renewal and retry after a 401. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  me(): Promise<MeResponse>;
  realtimeConnectionToken(): Promise<RealtimeTokenResponse>;
  realtimeSubscriptionToken(channel: string): Promise<RealtimeTokenResponse>;
  signOut(options?: { scope?: 'local' | 'global' }): Promise<void>;
  signOutOtherSessions(): Promise<void>;
  deleteAccount(): Promise<void>;
  flushPendingRevocations(): Promise<void>;
  readonly pendingRevocationCount: number;
}

export class RealtimeTokens {
  constructor(client: TegataClient, options?: { margin?: number; now?: () => number });
  connectionToken(): Promise<string>;
  subscriptionToken(channel: string): Promise<string>;
  /** Centrifuge's `getToken` for the connection: never the same token twice. */
  readonly connectionTokenGetter: () => Promise<string>;
  /** Centrifuge's `getToken` for a subscription. */
  subscriptionTokenGetter(channel: string): () => Promise<string>;
  /** Drops every cached token, or the one for `channel` (null: the connection token). */
  invalidate(channel?: string | null): void;
  close(): void;
}

export interface WebSessionState {
  status: TegataStatus;
  user: TegataUser | null;
  /** RFC 3339, from `GET /v1/session`. */
  expiresAt: string | null;
}

/** Cookie mode (docs/web.md): the session is Tegata's HttpOnly cookie; the page keeps no token. */
export class WebSession {
  constructor(options: {
    baseURL: string;
    /** The provider whose ID token `getIdToken` returns, for the one silent recovery after a 401. */
    provider?: string;
    /** A fresh ID token (e.g. LIFF's `getIDToken()`), or null; called at most once per sign-in. */
    getIdToken?: () => Promise<string | null> | string | null;
    /** Seconds between keep-alive reads while the page is visible. Default 300. */
    keepAliveInterval?: number;
    fetch?: typeof globalThis.fetch;
    window?: { addEventListener: Function; removeEventListener: Function };
    document?: { visibilityState?: string; addEventListener: Function; removeEventListener: Function };
  });
  readonly state: WebSessionState;
  onStateChange(listener: (state: WebSessionState) => void): () => void;
  /** Reads the session now, then keeps it alive on focus, on becoming visible and on an interval while visible. */
  start(): Promise<WebSessionState>;
  stop(): void;
  /** `GET /v1/session`: renews the cookie; after `signInRequired` it sends nothing. */
  check(): Promise<WebSessionState>;
  signIn(options: IdTokenSignIn): Promise<WebSessionState>;
  signInWithAccessToken(accessToken: string): Promise<WebSessionState>;
  /** An access token of the cookie's session for the page's own APIs, in memory only. */
  accessToken(): Promise<string>;
  /** `local`: `DELETE /v1/session`; `global` / `others`: `POST /v1/logout` with the cookie. */
  signOut(options?: { scope?: 'local' | 'global' | 'others' }): Promise<void>;
}

/** Runs `body` holding the lock `name` (Web Locks across tabs, else within this realm). Not reentrant. */
export function withLock<T>(name: string, body: () => Promise<T>, options?: { locks?: { request: (...args: any[]) => Promise<any> } | null }): Promise<T>;

export function tokenExpiry(token: string): number | null;
export function localExpiry(accessToken: string, expiresIn: number, receivedAt: number, serverDate: number | null): number;
export function needsRenewal(session: { receivedAt: number; accessExpiresAt: number }, now: number, marginSeconds: number): boolean;
export function retryAfterSeconds(value: string | null | undefined, now: number): number | null;
