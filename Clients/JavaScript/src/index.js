// @tegata/client — Tegata's JavaScript client. No runtime dependencies; browsers, Capacitor
// WebViews and Node 18+.
export { TegataClient, tokenExpiry, localExpiry, needsRenewal, retryAfterSeconds } from './client.js';
export { TegataClientError } from './errors.js';
export { MemoryStorage, LocalStorageStorage, IndexedDBStorage } from './storage.js';
export { RealtimeTokens } from './realtime.js';
export { WebSession } from './web-session.js';
export { withLock } from './lock.js';
