// Run by `npm install` (the root package's postinstall): builds the web app when it is missing and
// compiles the quick start, so that the first `npm start` does neither. Never fails the install: with
// development dependencies left out, or a build that fails, `npm start` builds what it needs itself
// (or runs the sources through tsx).
import { compiledQuickstart } from './compiled.mjs';
import { ensureWebApp } from './web-app.mjs';

const root = new URL('../../', import.meta.url);
try {
  ensureWebApp(root);
  await compiledQuickstart(root);
} catch (error) {
  console.error(`scoreline: preparing the quick start failed (npm start will retry): ${error}`);
}
