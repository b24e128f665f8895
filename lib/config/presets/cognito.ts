/**
 * Amazon Cognito user pools: https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-userpools-server-contract-reference.html
 *
 * Quirks: the issuer (`https://cognito-idp.<region>.amazonaws.com/<userPoolId>`) and the login pages (the user
 * pool's domain) are different hosts; there is no OpenID Connect end_session_endpoint but a logout endpoint of
 * its own, `https://<domain>/logout?client_id=…&logout_uri=…`, which sends the browser back to `logout_uri`
 * (one of the app client's "Allowed sign-out URLs": register the app's logout route) without `state`
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/logout-endpoint.html).
 */
import type { OAuthLoginConfig } from '../schema.js';
import { type PresetOverrides, originOf, withOverrides } from './merge.js';

/** Options of {@link cognito}. @public */
export interface CognitoOptions extends PresetOverrides {
  /** The user pool's domain, e.g. `example.auth.eu-west-1.amazoncognito.com`, or a custom domain. */
  domain: string;
  /** The AWS region of the user pool, e.g. `eu-west-1`. */
  region: string;
  /** The user pool id, e.g. `eu-west-1_AbCdEf123`. */
  userPoolId: string;
}

/** `providers.cognito({ domain, region, userPoolId })`: an Amazon Cognito user pool. @public */
export function cognito({ domain, region, userPoolId, ...overrides }: CognitoOptions): OAuthLoginConfig {
  return withOverrides(
    {
      issuer: `https://cognito-idp.${region}.amazonaws.com/${encodeURIComponent(userPoolId)}`,
      scope: 'openid email profile',
      logoutEndpoint: { url: `${originOf(domain)}/logout`, redirectParam: 'logout_uri' },
    },
    overrides,
  );
}
