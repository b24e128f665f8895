/**
 * Provider presets (README "Choosing your IdP"): one small file per IdP with its endpoints, quirks and documentation
 * link, each a function returning a configuration for `oauthLogin()` to spread and override field by field:
 * `oauthLogin({ ...providers.github(), clientId, clientSecret, baseURL })`, or, for the presets that take them, with
 * the overrides as their argument: `providers.google({ clientId, ... })`. Data, not branches in the core.
 */
import { apple } from './apple.js';
import { auth0 } from './auth0.js';
import { cognito } from './cognito.js';
import { github } from './github.js';
import { gitlab } from './gitlab.js';
import { google } from './google.js';
import { keycloak } from './keycloak.js';
import { microsoft } from './microsoft.js';
import { okta } from './okta.js';

/** The presets, as `import { providers } from 'express-oauth-login'`. @public */
export const providers = { apple, auth0, cognito, github, gitlab, google, keycloak, microsoft, okta };

export type { PresetOverrides } from './merge.js';
export type { AppleOptions } from './apple.js';
export type { Auth0Options } from './auth0.js';
export type { CognitoOptions } from './cognito.js';
export type { GithubPresetOptions } from './github.js';
export type { GitlabPresetOptions } from './gitlab.js';
export type { KeycloakOptions } from './keycloak.js';
export type { MicrosoftOptions } from './microsoft.js';
export type { OktaOptions } from './okta.js';
