/**
 * The suite really runs on the Express major its jest project names: lib/, the helpers and the example app all
 * load that `express`.
 */
import express from 'express';
import { EXPRESS_MAJOR } from './helpers/express-major.js';

test(`this project runs on Express ${EXPRESS_MAJOR}`, () => {
  // express.query (the query-parser middleware) exists in Express 4 and was removed in Express 5.
  expect(typeof (express as unknown as { query?: unknown }).query).toBe(EXPRESS_MAJOR === 4 ? 'function' : 'undefined');
});
