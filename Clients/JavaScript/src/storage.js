// Where the client keeps its record (device credentials, the session, pending revocations).
// An adapter is three async methods over strings, small enough to wrap Capacitor Preferences or a
// secure-storage plugin (docs/javascript.md shows both):
//   get(key) → string | null,   set(key, value),   remove(key)

/**
 * @typedef {object} TegataStorage
 * @property {(key: string) => Promise<string | null>} get
 * @property {(key: string, value: string) => Promise<void>} set
 * @property {(key: string) => Promise<void>} remove
 */

/** Keeps the record in memory: gone when the page or process ends. The default. */
export class MemoryStorage {
  #values = new Map();
  /** @param {string} key */
  async get(key) {
    return this.#values.has(key) ? this.#values.get(key) : null;
  }
  /** @param {string} key @param {string} value */
  async set(key, value) {
    this.#values.set(key, String(value));
  }
  /** @param {string} key */
  async remove(key) {
    this.#values.delete(key);
  }
}

/**
 * `window.localStorage` (or any Web Storage object). Shared by the tabs of an origin, and readable
 * by any script on it: a page with third-party scripts should prefer MemoryStorage or a cookie
 * session (docs/web.md).
 */
export class LocalStorageStorage {
  #storage;
  /** @param {Storage} [storage] */
  constructor(storage = globalThis.localStorage) {
    if (!storage) throw new TypeError('LocalStorageStorage: no localStorage in this environment');
    this.#storage = storage;
  }
  /** @param {string} key */
  async get(key) {
    return this.#storage.getItem(key);
  }
  /** @param {string} key @param {string} value */
  async set(key, value) {
    this.#storage.setItem(key, value);
  }
  /** @param {string} key */
  async remove(key) {
    this.#storage.removeItem(key);
  }
}

/** IndexedDB, one object store of strings; for pages and WebViews where localStorage may be cleared. */
export class IndexedDBStorage {
  #database;
  #store;
  #opening = null;
  /** @param {{ database?: string, store?: string, indexedDB?: IDBFactory }} [options] */
  constructor(options = {}) {
    this.#database = options.database ?? 'tegata';
    this.#store = options.store ?? 'records';
    this.factory = options.indexedDB ?? globalThis.indexedDB;
    if (!this.factory) throw new TypeError('IndexedDBStorage: no indexedDB in this environment');
  }

  #open() {
    this.#opening ??= new Promise((resolve, reject) => {
      const request = this.factory.open(this.#database, 1);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(this.#store)) request.result.createObjectStore(this.#store);
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => {
        this.#opening = null;
        reject(request.error);
      };
    });
    return this.#opening;
  }

  async #run(mode, operation) {
    const database = await this.#open();
    return new Promise((resolve, reject) => {
      const transaction = database.transaction(this.#store, mode);
      const request = operation(transaction.objectStore(this.#store));
      transaction.oncomplete = () => resolve(request.result);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  }

  /** @param {string} key */
  async get(key) {
    const value = await this.#run('readonly', (store) => store.get(key));
    return typeof value === 'string' ? value : null;
  }
  /** @param {string} key @param {string} value */
  async set(key, value) {
    await this.#run('readwrite', (store) => store.put(String(value), key));
  }
  /** @param {string} key */
  async remove(key) {
    await this.#run('readwrite', (store) => store.delete(key));
  }
}
