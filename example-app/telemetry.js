// @ts-check
/**
 * `METRICS=1 npm start`: OpenTelemetry for the example app, set up the way an app registers it (NodeSDK does the
 * same in one call). express-oauth-login needs no option: it finds the registered providers by itself.
 *
 * - Metrics: a MeterProvider whose reader is the Prometheus exporter; the app serves its text at GET /metrics.
 * - Traces: a tracer provider keeping the last spans in memory (a real app exports them, e.g. over OTLP), the
 *   AsyncLocalStorage context manager (so the IdP calls are children of the callback span) and the W3C Trace
 *   Context propagator (so the IdP receives `traceparent`).
 *
 * Only server.js imports this file, and only with METRICS=1: without it the app never loads OpenTelemetry.
 */
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { DataPointType, MeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

/** The instrumentation scope express-oauth-login records under. */
const SCOPE = 'express-oauth-login';
/** How many finished spans the panel shows. */
const RECENT_SPANS = 8;

/**
 * @typedef {object} RecordedMetric
 * @property {string} name
 * @property {string} labels the attributes as `name=value` pairs
 * @property {string} value a counter's sum, or a histogram's count and mean
 *
 * @typedef {object} RecordedSpan
 * @property {string} name
 * @property {string} labels its express_oauth_login.* and HTTP attributes
 * @property {string} status
 * @property {number} ms
 * @property {string} traceId
 *
 * @typedef {object} Recorded what the middleware recorded, for the panel
 * @property {RecordedMetric[]} metrics
 * @property {RecordedSpan[]} spans
 *
 * @typedef {object} Telemetry
 * @property {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void} metricsHandler GET /metrics
 * @property {() => Promise<Recorded>} recorded
 * @property {() => Promise<void>} close
 */

/** @param {import('@opentelemetry/api').Attributes} attributes */
const labels = (attributes) =>
  Object.entries(attributes)
    .map(([k, v]) => `${k.replace(/^express_oauth_login\./, '')}=${String(v)}`)
    .join(' ');

/**
 * Registers the OpenTelemetry SDK globally and returns the /metrics handler and the panel's data.
 * @returns {Telemetry}
 */
export function startTelemetry() {
  // preventServerStart: the exporter does not open a port of its own; the app serves GET /metrics.
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ readers: [exporter] });
  /** @type {RecordedSpan[]} */
  const spans = [];
  /** @type {import('@opentelemetry/sdk-trace-base').SpanExporter} */
  const recentSpans = {
    export(finished, done) {
      for (const span of finished) {
        if (span.instrumentationScope.name !== SCOPE) continue;
        const [seconds, nanos] = span.duration;
        spans.unshift({
          name: span.name,
          labels: labels(span.attributes),
          status: span.status.code === 2 ? `error ${span.status.message ?? ''}` : 'ok',
          ms: Math.round(seconds * 1000 + nanos / 1e6),
          traceId: span.spanContext().traceId,
        });
      }
      spans.length = Math.min(spans.length, RECENT_SPANS);
      done({ code: ExportResultCode.SUCCESS });
    },
    shutdown: async () => undefined,
  };
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(recentSpans)] });
  metrics.setGlobalMeterProvider(meterProvider);
  trace.setGlobalTracerProvider(tracerProvider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());

  return {
    metricsHandler: (req, res) => exporter.getMetricsRequestHandler(req, res),
    async recorded() {
      const { resourceMetrics } = await exporter.collect();
      /** @type {RecordedMetric[]} */
      const rows = [];
      for (const scope of resourceMetrics.scopeMetrics.filter((s) => s.scope.name === SCOPE)) {
        for (const metric of scope.metrics) {
          for (const point of metric.dataPoints) {
            let value;
            if (metric.dataPointType === DataPointType.HISTOGRAM) {
              const h = /** @type {{ count: number, sum?: number }} */ (point.value);
              value = `${h.count} × mean ${h.count ? (((h.sum ?? 0) / h.count) * 1000).toFixed(1) : 0} ms`;
            } else {
              value = String(point.value);
            }
            rows.push({ name: metric.descriptor.name, labels: labels(point.attributes), value });
          }
        }
      }
      return { metrics: rows, spans: [...spans] };
    },
    async close() {
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
    },
  };
}
