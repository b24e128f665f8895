/**
 * The real OpenTelemetry SDK, registered globally for a test file the way an app (or NodeSDK) registers it: a
 * MeterProvider with an in-memory reader collected on demand, a tracer provider with an in-memory span exporter,
 * the AsyncLocalStorage context manager and the W3C Trace Context propagator. The middleware needs no option to
 * record into them.
 */
import { type Attributes, context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

/** A reader that exports nothing by itself: the test collects when it wants to look. */
class CollectingReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** One exported data point: a counter's sum, or a histogram's count and sum. */
export interface Point {
  scope: string;
  name: string;
  unit: string;
  attributes: Attributes;
  /** Counter sum, or histogram count. */
  value: number;
  /** Histograms: the sum of recorded values. */
  sum?: number;
}

export interface TestTelemetry {
  /** Every data point the SDK holds right now (cumulative since registration). */
  points(): Promise<Point[]>;
  /** The sum (counters) or count (histograms) of the points of `name` whose attributes include `match`. */
  total(name: string, match?: Attributes): Promise<number>;
  /** Every finished span so far. */
  spans(): ReadableSpan[];
  shutdown(): Promise<void>;
}

const matches = (attributes: Attributes, match: Attributes) => Object.entries(match).every(([k, v]) => attributes[k] === v);

/** Registers the SDK globally (call at the top of a test file) and returns ways to read what was recorded. */
export function registerTestTelemetry(): TestTelemetry {
  const reader = new CollectingReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  if (!metrics.setGlobalMeterProvider(meterProvider) || !trace.setGlobalTracerProvider(tracerProvider)) {
    throw new Error('an OpenTelemetry provider was already registered in this test file');
  }
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());

  const points = async (): Promise<Point[]> => {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length) throw new Error(`metric collection failed: ${errors.map(String).join(', ')}`);
    const all: Point[] = [];
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        for (const point of metric.dataPoints) {
          const base = { scope: scope.scope.name, name: metric.descriptor.name, unit: metric.descriptor.unit, attributes: point.attributes };
          if (metric.dataPointType === DataPointType.HISTOGRAM) {
            const value = point.value as { count: number; sum?: number };
            all.push({ ...base, value: value.count, sum: value.sum ?? 0 });
          } else {
            all.push({ ...base, value: point.value as number });
          }
        }
      }
    }
    return all;
  };
  return {
    points,
    async total(name, match = {}) {
      return (await points()).filter((p) => p.name === name && matches(p.attributes, match)).reduce((n, p) => n + p.value, 0);
    },
    spans: () => exporter.getFinishedSpans(),
    async shutdown() {
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
      metrics.disable();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
