/**
 * The recording an authenticated GET makes, measured alone (bench/otel.js runs this in a child process): one
 * session store timer (`storeTimer('get')` and its `done()`), the only telemetry call on that path. Prints the
 * median CPU time per call in µs over several batches. BENCH_OTEL_PIECES (JSON): { dist, sdk }.
 */
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const opts = JSON.parse(process.env.BENCH_OTEL_PIECES ?? '{}');
if (opts.sdk) {
  const { metrics } = await import('@opentelemetry/api');
  const { MeterProvider, PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics');
  const exporter = { export: (_data, done) => done({ code: 0 }), forceFlush: async () => {}, shutdown: async () => {} };
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter })] }));
}
const { storeTimer } = await import(pathToFileURL(join(dirname(opts.dist), 'telemetry.js')).href);

const BATCH = 100_000;
const once = () => {
  const done = storeTimer('redis', 'get');
  done?.();
};
for (let i = 0; i < BATCH; i++) once(); // warm-up (JIT)
const perCall = [];
for (let b = 0; b < 9; b++) {
  const start = process.cpuUsage();
  for (let i = 0; i < BATCH; i++) once();
  const used = process.cpuUsage(start);
  perCall.push((used.user + used.system) / BATCH);
}
perCall.sort((a, b) => a - b);
process.send?.({ microsPerCall: perCall[4] });
process.exit(0);
