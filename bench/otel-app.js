/**
 * One app of `npm run bench:otel` (bench/otel.js), in its own process so that its CPU time can be read alone: the
 * bench's "ours" app (oauthSession() + oauthLogin() + requireAuth() on /me) built from a given copy of the
 * package, with or without the OpenTelemetry SDK registered.
 *
 * BENCH_OTEL_APP (JSON): { dist: path of the package's dist/index.js, sdk: boolean, store: 'memory' | 'redis',
 * redisUrl, issuer, clientId, clientSecret }. With `sdk`, a MeterProvider (a periodic reader at the SDK's
 * default interval, to an exporter that drops the data) and a tracer provider (batching to a dropping exporter), the
 * AsyncLocalStorage context manager and the W3C propagator are registered first, as NodeSDK would, and the
 * context manager is put to use once, as the app's HTTP instrumentation would on its first request.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import express from 'express';
import { Redis } from 'ioredis';

const opts = JSON.parse(process.env.BENCH_OTEL_APP ?? '{}');

if (opts.sdk) {
  const { context, metrics, propagation, trace } = await import('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { ExportResultCode, W3CTraceContextPropagator } = await import('@opentelemetry/core');
  const { MeterProvider, PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics');
  const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const drop = (_data, done) => done({ code: ExportResultCode.SUCCESS });
  const metricExporter = { export: drop, forceFlush: async () => {}, shutdown: async () => {} };
  // The SDK's default export interval (60 s), as an app that exports over OTLP runs it.
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter });
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  const spanExporter = { export: drop, shutdown: async () => {} };
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(spanExporter)] }));
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  // An instrumented app's first request (HTTP instrumentation) runs in context.with(), which turns on Node's
  // AsyncLocalStorage hooks for the whole process: do it here, so every sdk variant pays that alike.
  context.with(context.active(), () => undefined);
}

const lib = await import(pathToFileURL(opts.dist).href);

const server = http.createServer();
server.keepAliveTimeout = 60_000;
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const baseURL = `http://127.0.0.1:${port}`;
const redis = opts.store === 'redis' ? new Redis(opts.redisUrl, { enableAutoPipelining: false }) : undefined;
redis?.on('error', () => {}); // the bench stops Redis last; a reconnection attempt in between is not news

const app = express();
app.disable('x-powered-by');
app.use(lib.oauthSession({ secret: 'bench-session-secret-0123456789abcdef', baseURL, ...(redis && { redis }), cookie: { name: 'app.sid' } }));
app.use(lib.oauthLogin({ issuer: opts.issuer, clientId: opts.clientId, clientSecret: opts.clientSecret, baseURL, allowInsecureRequests: true }));
app.get('/me', lib.requireAuth(), (req, res) => {
  res.json({ sub: req.user.sub, name: req.user.claims.name });
});

server.on('request', app);
process.on('message', (msg) => {
  if (msg?.cmd === 'cpu') process.send?.({ cpu: process.cpuUsage() });
  if (msg?.cmd === 'loaded') {
    // How many OpenTelemetry modules this process loaded (the variant without the package must show none).
    const { cache } = createRequire(import.meta.url);
    process.send?.({ loaded: Object.keys(cache).filter((f) => f.includes('@opentelemetry')).length });
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.({ port, baseURL });
