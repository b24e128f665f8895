/**
 * The `telemetry` option group of `oauthLogin()` (README "Observability"). OpenTelemetry needs no option: it is
 * used whenever the app has registered a MeterProvider / TracerProvider. This group only opts into more.
 */
import { z } from 'zod';

/** Spread into the oauthLogin() schema. @private */
export const telemetryOptions = {
  telemetry: z
    .object({
      /**
       * Opt-in: a secret key that adds `user.hash` (HMAC-SHA256 of issuer and `sub`, OTel semantic conventions) to
       * the callback span, so the traces of one user can be found without the `sub` ever being exported.
       */
      userHashKey: z
        .string({ error: 'telemetry.userHashKey must be a string: a random secret of at least 32 characters' })
        .min(32, 'telemetry.userHashKey must be at least 32 characters (a random secret: a short key lets anyone who sees a hash guess the sub)')
        .optional(),
    }, { error: 'telemetry must be an object, e.g. { userHashKey }' })
    .strict()
    .default({}),
};
