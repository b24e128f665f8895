/**
 * The IdP's discovered metadata, read once per openid-client Configuration.
 *
 * Why: `Configuration.serverMetadata()` returns a fresh structuredClone of the whole discovery document on every
 * call (so that a caller cannot change the configuration through it). The login start reads it to decide on PAR,
 * and with OpenTelemetry's API installed every IdP call reads it to name the endpoint: the bench's profile showed
 * about 100 µs per login in those clones for a small discovery document (real IdPs publish several KB). A
 * Configuration's metadata never changes after discovery, so one copy per Configuration serves them all.
 */
import type * as client from 'openid-client';

const cache = new WeakMap<client.Configuration, Readonly<client.ServerMetadata>>();

/**
 * The server metadata of `configuration`, copied once and shared: treat it as read-only.
 * @private
 */
export function serverMetadataOf(configuration: client.Configuration): Readonly<client.ServerMetadata> {
  let metadata = cache.get(configuration);
  if (!metadata) {
    metadata = Object.freeze(configuration.serverMetadata());
    cache.set(configuration, metadata);
  }
  return metadata;
}
