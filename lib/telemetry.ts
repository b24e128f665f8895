/**
 * OpenTelemetry metrics and traces, optional: when the app has `@opentelemetry/api` installed and has registered a
 * MeterProvider and/or TracerProvider (NodeSDK does both), the middleware records into them with no configuration.
 * Without the package nothing is loaded: the one attempt to find it fails once, every hook below returns at once.
 *
 * Names follow the OpenTelemetry semantic conventions where one exists (HTTP client spans and their attributes,
 * `error.type`, `user.hash`), and the documented `express_oauth_login.*` namespace otherwise (README
 * "Observability"). Attributes are built here from fixed, low-cardinality values only: an endpoint kind, an error
 * code, a status, a provider name. No attribute ever holds a token, code, verifier, session id, e-mail or `sub`;
 * `user.hash` (a keyed HMAC of the subject) is added to the callback span only when the app gives a key.
 *
 * Why our own IdP duration metric rather than `http.client.request.duration`: the IdP client is node:http, so an
 * app running @opentelemetry/instrumentation-http already records that metric for these very requests; a metric
 * of our own (with the same attributes) does not count them twice.
 */
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Otel from '@opentelemetry/api';
import { OAuthLoginError } from './errors.js';

type Api = typeof Otel;

/** The instrumentation scope: the meter's and the tracer's name. */
const SCOPE = 'express-oauth-login';
/** Attribute names of our own namespace (README "Observability"). */
const A = {
  provider: 'express_oauth_login.provider',
  outcome: 'express_oauth_login.outcome',
  loginKind: 'express_oauth_login.login.kind',
  idpLogout: 'express_oauth_login.logout.idp',
  endpoint: 'express_oauth_login.idp.endpoint',
  storeType: 'express_oauth_login.session_store.type',
  storeOperation: 'express_oauth_login.session_store.operation',
} as const;

let api: Api | null | undefined;
let version: string | undefined;

/**
 * The OpenTelemetry API when the app has it installed, else null. Looked for once, with a plain require (like
 * ioredis in session/store.ts): it is an optional peer dependency, never imported statically.
 */
function otel(): Api | null {
  if (api === undefined) {
    const require = createRequire(import.meta.url);
    try {
      api = require('@opentelemetry/api') as Api;
      version = (require('../package.json') as { version?: string }).version;
    } catch {
      api ??= null;
    }
  }
  return api;
}

/** True when `@opentelemetry/api` is installed: only then do the hooks below measure anything. @private */
export function telemetryEnabled(): boolean {
  return otel() !== null;
}

/** OTel semantic conventions' HTTP duration buckets (seconds), also fine for the IdP. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** A session store answers in well under a millisecond to a few ms; its deadline is seconds. */
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** A login is a person at the IdP's pages: seconds to minutes (loginTimeout is 10 minutes by default). */
const LOGIN_BUCKETS = [0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];

function build(meter: Otel.Meter) {
  const histogram = (name: string, description: string, buckets: number[]) =>
    meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: buckets } });
  return {
    logins: meter.createCounter('express_oauth_login.logins', { description: 'Logins by outcome (ok or the error code)', unit: '{login}' }),
    loginDuration: histogram('express_oauth_login.login.duration', 'From /login to the end of the callback', LOGIN_BUCKETS),
    refreshes: meter.createCounter('express_oauth_login.refreshes', { description: 'Requests that needed a token refresh, by outcome', unit: '{refresh}' }),
    logouts: meter.createCounter('express_oauth_login.logouts', { description: 'Logouts through the logout route', unit: '{logout}' }),
    backchannelLogouts: meter.createCounter('express_oauth_login.backchannel_logouts', { description: 'Back-channel logout requests by outcome', unit: '{request}' }),
    backchannelSessions: meter.createCounter('express_oauth_login.backchannel_logout.sessions', { description: 'Sessions ended by back-channel logouts', unit: '{session}' }),
    idpDuration: histogram('express_oauth_login.idp.request.duration', 'Calls to the identity provider, by endpoint and status', HTTP_BUCKETS),
    storeDuration: histogram('express_oauth_login.session_store.duration', 'Session store operations', STORE_BUCKETS),
    storeFailures: meter.createCounter('express_oauth_login.session_store.failures', { description: 'Session store operations that failed', unit: '{failure}' }),
  };
}

let instruments: { provider: Otel.MeterProvider; all: ReturnType<typeof build> } | undefined;

/**
 * Our instruments on the app's current global MeterProvider. The metrics API has no proxy provider (unlike
 * traces), so a meter taken before the app registered its provider would stay a no-op: look it up per record
 * (a global read) and rebuild when it changed.
 */
function meters(o: Api): ReturnType<typeof build> {
  const provider = o.metrics.getMeterProvider();
  if (instruments?.provider !== provider) instruments = { provider, all: build(provider.getMeter(SCOPE, version)) };
  return instruments.all;
}

/** The value of `express_oauth_login.provider`: the provider's `name`, else its issuer. @private */
export function providerLabel(config: { name?: string | undefined; issuer: string }): string {
  return config.name ?? config.issuer;
}

/** An outcome attribute for a failure: the middleware's error code, or `_OTHER` (an app error). */
function failureOf(err: unknown): string {
  return err instanceof OAuthLoginError ? err.code : '_OTHER';
}

/** How a login was started. @private */
export type LoginKind = 'interactive' | 'silent' | 'step_up';

/** What the telemetry needs of a pending login (session/state.ts PendingLogin). */
interface PendingLike {
  acr?: string | undefined;
  maxAge?: number | undefined;
  silent?: boolean | undefined;
  /** Milliseconds since the epoch, when /login started it. */
  startedAt?: number | undefined;
}

function kindOf(pending: PendingLike): LoginKind {
  if (pending.silent) return 'silent';
  return pending.acr !== undefined || pending.maxAge !== undefined ? 'step_up' : 'interactive';
}

/** A login that failed before the redirect to the IdP (discovery down, PAR refused, store down). @private */
export function recordLoginStartFailure(provider: string, pending: PendingLike, err: unknown): void {
  const o = otel();
  if (!o) return;
  meters(o).logins.add(1, { [A.provider]: provider, [A.outcome]: failureOf(err), [A.loginKind]: kindOf(pending) });
}

/**
 * A refresh outcome of one request that needed one (README "Observability"): `refreshed` and `ended` for the
 * request whose grant ran, `coalesced` for each request that got the outcome of another's grant (in process or
 * from another instance), `transient_failure` when no outcome could be had (IdP or store unreachable).
 * @private
 */
export type RefreshOutcomeKind = 'refreshed' | 'coalesced' | 'ended' | 'transient_failure';

/** Counts one refresh outcome: the one entry point for every place that decides one. @private */
export function recordRefresh(provider: string, outcome: RefreshOutcomeKind): void {
  const o = otel();
  if (!o) return;
  meters(o).refreshes.add(1, { [A.provider]: provider, [A.outcome]: outcome });
}

/** Counts a logout through the logout route. @private */
export function recordLogout(provider: string, idpLogout: boolean): void {
  const o = otel();
  if (!o) return;
  meters(o).logouts.add(1, { [A.provider]: provider, [A.idpLogout]: idpLogout });
}

/** Counts a back-channel logout request (`ok` or the error code) and the sessions it ended. @private */
export function recordBackchannelLogout(provider: string, result: { sessions: number } | { error: unknown }): void {
  const o = otel();
  if (!o) return;
  const m = meters(o);
  const outcome = 'sessions' in result ? 'ok' : failureOf(result.error);
  m.backchannelLogouts.add(1, { [A.provider]: provider, [A.outcome]: outcome });
  if ('sessions' in result && result.sessions > 0) m.backchannelSessions.add(result.sessions, { [A.provider]: provider });
}

/** The session store kinds and operations that are timed. @private */
export type StoreType = 'redis' | 'memory';
/** @private */
export type StoreOperation = 'get' | 'set' | 'destroy';

/** A store failure as `error.type`: our deadline, or the store being unreachable. */
function storeErrorType(err: unknown): string {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && /did not answer within|Command timed out/.test(message)) return 'timeout';
  }
  return 'unavailable';
}

/**
 * Starts timing one session store operation; call what it returns when the operation ends (with its error, if
 * any). Returns undefined without OpenTelemetry, so a store pays nothing then.
 * @private
 */
export function storeTimer(type: StoreType, operation: StoreOperation): ((err?: unknown) => void) | undefined {
  const o = otel();
  if (!o) return undefined;
  const started = performance.now();
  return (err) => {
    const m = meters(o);
    const attributes: Otel.Attributes = { [A.storeType]: type, [A.storeOperation]: operation };
    if (err !== undefined && err !== null) {
      attributes['error.type'] = storeErrorType(err);
      m.storeFailures.add(1, attributes);
    }
    m.storeDuration.record((performance.now() - started) / 1000, attributes);
  };
}

/** The IdP endpoints whose calls are told apart (`other`: anything an IdP adds beyond them). @private */
export type IdpEndpoint = 'token' | 'userinfo' | 'jwks' | 'discovery' | 'par' | 'revocation' | 'other';

/** Our own transport errors carry a code (idp_timeout, idp_unavailable); anything else is named by its class. */
function transportErrorType(err: unknown): string {
  if (err instanceof OAuthLoginError) return err.code;
  return err instanceof Error ? err.name : '_OTHER';
}

/**
 * Runs one call to the IdP inside an HTTP client span (OTel HTTP client semantic conventions), with the W3C
 * `traceparent` (through the app's registered propagator) added to its headers, and records its duration by
 * endpoint and status. `url.full` leaves out the query string; IdP calls carry no secret in it, but nothing here
 * depends on that. Without OpenTelemetry it is just `call(init)`.
 * @private
 */
export async function observeIdpCall(
  endpoint: () => IdpEndpoint,
  url: string,
  init: RequestInit,
  call: (init: RequestInit) => Promise<Response>,
): Promise<Response> {
  const o = otel();
  if (!o) return call(init);
  const target = new URL(url);
  const method = (init.method ?? 'GET').toUpperCase();
  const port = Number(target.port) || (target.protocol === 'https:' ? 443 : 80);
  const attributes: Otel.Attributes = {
    'http.request.method': method,
    'server.address': target.hostname,
    'server.port': port,
    [A.endpoint]: endpoint(),
  };
  const parent = o.context.active();
  // Semantic conventions: an HTTP client span is named after the method when there is no URL template.
  const span = o.trace.getTracer(SCOPE, version).startSpan(
    method,
    { kind: o.SpanKind.CLIENT, attributes: { ...attributes, 'url.full': `${target.origin}${target.pathname}` } },
    parent,
  );
  const carrier: Record<string, string> = {};
  o.propagation.inject(o.trace.setSpan(parent, span), carrier);
  let headers = init.headers;
  if (Object.keys(carrier).length) {
    const merged = new Headers(init.headers);
    for (const [name, value] of Object.entries(carrier)) merged.set(name, value);
    headers = merged;
  }
  const started = performance.now();
  try {
    const response = await call({ ...init, headers });
    attributes['http.response.status_code'] = response.status;
    if (response.status >= 400) attributes['error.type'] = String(response.status);
    return response;
  } catch (err) {
    attributes['error.type'] = transportErrorType(err);
    throw err;
  } finally {
    meters(o).idpDuration.record((performance.now() - started) / 1000, attributes);
    span.setAttributes(attributes);
    const failed = attributes['error.type'];
    if (failed !== undefined) span.setStatus({ code: o.SpanStatusCode.ERROR, message: String(failed) });
    span.end();
  }
}

/** What the callback reports to its observation. @private */
export interface CallbackObservation {
  /** The response matched a pending login: its kind and start time (login duration). */
  matched(pending: PendingLike): void;
  /** The login succeeded for `sub` (used only for the opt-in `user.hash`). */
  succeeded(sub: string): void;
  /** The callback failed with `err`, or ended on an IdP error it answers itself (silent login). */
  failed(err: unknown): void;
}

const NOTHING: CallbackObservation = { matched: () => undefined, succeeded: () => undefined, failed: () => undefined };

/** Pseudonymous user id: HMAC-SHA256 of issuer and subject under the app's key (semantic conventions `user.hash`). */
function userHash(key: string, issuer: string, sub: string): string {
  return createHmac('sha256', key).update(`${issuer}\n${sub}`).digest('base64url').slice(0, 22);
}

/**
 * Runs the callback inside an `express_oauth_login.callback` span (the IdP calls it makes are its children) and
 * records the login's outcome and duration once it reports them.
 * @private
 */
export async function observeCallback(
  who: { provider: string; issuer: string; userHashKey?: string | undefined },
  run: (observation: CallbackObservation) => Promise<void>,
): Promise<void> {
  const o = otel();
  if (!o) return run(NOTHING);
  const span = o.trace.getTracer(SCOPE, version).startSpan('express_oauth_login.callback', { attributes: { [A.provider]: who.provider } });
  let pending: PendingLike | undefined;
  const finish = (outcome: string, sub?: string): void => {
    const attributes: Otel.Attributes = { [A.provider]: who.provider, [A.outcome]: outcome };
    if (pending) attributes[A.loginKind] = kindOf(pending);
    const m = meters(o);
    m.logins.add(1, attributes);
    if (pending?.startedAt !== undefined) m.loginDuration.record(Math.max(0, Date.now() - pending.startedAt) / 1000, attributes);
    span.setAttributes(attributes);
    if (sub !== undefined && who.userHashKey) span.setAttribute('user.hash', userHash(who.userHashKey, who.issuer, sub));
    if (outcome !== 'ok') span.setStatus({ code: o.SpanStatusCode.ERROR, message: outcome });
  };
  const observation: CallbackObservation = {
    matched: (p) => void (pending = p),
    succeeded: (sub) => finish('ok', sub),
    failed: (err) => finish(failureOf(err)),
  };
  try {
    await o.context.with(o.trace.setSpan(o.context.active(), span), () => run(observation));
  } finally {
    span.end();
  }
}
