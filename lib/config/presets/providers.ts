/**
 * Provider presets: one small file per IdP with its endpoints, quirks and documentation link, each a function
 * returning a configuration for `oauthLogin()` to spread and override field by field:
 * `oauthLogin({ ...providers.github(), clientId, clientSecret, baseURL })`. Data, not branches in the core.
 */
import { github } from './github.js';
import { gitlab } from './gitlab.js';

/** The presets, as `import { providers } from 'express-oauth-login'`. @public */
export const providers = { github, gitlab };

export type { GithubPresetOptions } from './github.js';
export type { GitlabPresetOptions } from './gitlab.js';
