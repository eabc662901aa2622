// Types of @tegata/client/verifier, kept in step with src/verifier.js by hand.

export type VerificationFailure =
  | 'malformed' | 'unsupportedAlgorithm' | 'wrongType' | 'unknownKey' | 'badSignature' | 'wrongIssuer'
  | 'wrongAudience' | 'expired' | 'notYetValid' | 'issuedInFuture' | 'revoked' | 'revocationStatusUnknown'
  | 'keysUnavailable' | 'dpopBound';

export class TegataVerifierError extends Error {
  constructor(reason: VerificationFailure, message: string);
  readonly reason: VerificationFailure;
}

/** The claims of a Tegata access token (docs/claims.md); app claims at the top level too. */
export interface TegataClaims {
  iss: string;
  sub: string;
  aud: string | [string];
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  sid: string;
  client_id: string;
  amr: string[];
  anon: boolean;
  tv: number;
  ent?: Record<string, true | { expires_at: number }>;
  [claim: string]: unknown;
}

export interface TegataVerifierOptions {
  /** Tegata's issuer URL, exactly as in its tokens (https, or http on a loopback host). */
  issuer: string;
  /** The expected `aud`. Default: the issuer. */
  audience?: string;
  /** Seconds of clock difference tolerated. Default 30. */
  leeway?: number;
  keySet?: { minimumLifetime?: number; maximumLifetime?: number; defaultLifetime?: number; unknownKeyRefetchInterval?: number };
  /** A resource-server client (TEGATA_INTROSPECTION_CLIENTS) to read the revocation feed with. */
  revocations?: { clientID: string; clientSecret: string; wait?: number; maximumStaleness?: number; failureMode?: 'closed' | 'open' };
  fetch?: typeof globalThis.fetch;
  now?: () => number;
  subtle?: SubtleCrypto;
}

export class TegataVerifier {
  constructor(options: TegataVerifierOptions);
  /** The claims of a valid token; throws TegataVerifierError otherwise. */
  verify(token: string): Promise<TegataClaims>;
  /** Follows the revocation feed (long-poll) until stop(); resolves after the first read. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Reads the feed once: for Workers and other runtimes without long-lived connections. */
  syncRevocations(): Promise<void>;
  readonly isRevocationListLoaded: boolean;
}

/** Express-style middleware: `req.tegata` holds the claims; RFC 6750 answers otherwise. */
export function tegataAuth(verifier: TegataVerifier, options?: { realm?: string }): (req: any, res: any, next: () => void) => Promise<void>;

/** Whether a JSON text repeats a member name in any object (such tokens are refused). */
export function repeatsAMemberName(text: string): boolean;
