/**
 * Which oauthLogin() configuration a request went through. The router binds it as the request enters; the lower
 * layers read it from here (the session store for its TTL, the error page for its "Start again" link), so none of
 * them has to know the router.
 */
import type { Request } from 'express';
import type { ResolvedConfig } from './schema.js';

const CONFIG = Symbol.for('express-oauth-login.config');

type Slot = Record<symbol, ResolvedConfig | undefined>;

/** Binds `config` to the request (the router decides which one wins when several are mounted). @private */
export function bindConfig(req: Request, config: ResolvedConfig): void {
  (req as unknown as Slot)[CONFIG] = config;
}

/** The configuration of the oauthLogin() this request went through, if any. @private */
export function boundConfig(req: Request): ResolvedConfig | undefined {
  return (req as unknown as Slot)[CONFIG];
}
