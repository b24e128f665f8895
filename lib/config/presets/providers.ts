/**
 * Provider presets (README "Choosing your IdP"): `import { providers } from 'express-oauth-login'`, then
 * `oauthLogin({ ...providers.google(), clientId, clientSecret, baseURL })` or pass the options to the preset:
 * `providers.google({ clientId, ... })`. Each preset is one small file of data with its provider's quirks and
 * documentation link; every field it sets can be overridden.
 */
import { apple } from './apple.js';
import { auth0 } from './auth0.js';
import { cognito } from './cognito.js';
import { google } from './google.js';
import { keycloak } from './keycloak.js';
import { microsoft } from './microsoft.js';
import { okta } from './okta.js';

/** The provider presets, by name. @public */
export const providers = {
  apple,
  auth0,
  cognito,
  google,
  keycloak,
  microsoft,
  okta,
};

export type { PresetOverrides } from './merge.js';
export type { AppleOptions } from './apple.js';
export type { Auth0Options } from './auth0.js';
export type { CognitoOptions } from './cognito.js';
export type { KeycloakOptions } from './keycloak.js';
export type { MicrosoftOptions } from './microsoft.js';
export type { OktaOptions } from './okta.js';
