export * from './index.js';
import type { TegataStorage, TegataClientOptions } from './index.js';
import { TegataClient as BaseClient } from './index.js';

/** TegataClient with Node's Web Crypto as the default `crypto`. */
export class TegataClient extends BaseClient {
  constructor(options: TegataClientOptions);
}

/** One file per record under `directory` (mode 0700), each file mode 0600, replaced atomically. */
export class FileStorage implements TegataStorage {
  constructor(directory: string);
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  remove(key: string): Promise<void>;
}
