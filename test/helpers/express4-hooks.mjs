// Preloaded with `node --import` into processes the Express 4 test project spawns: `import 'express'` resolves to
// the express4 alias (npm:express@4), as jest's moduleNameMapper does inside the test process.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(
      "export async function resolve(specifier, context, next) { return next(specifier === 'express' ? 'express4' : specifier, context); }",
    ),
  import.meta.url,
);
