#!/usr/bin/env node
// The published entry point runs the compiled CLI (built by `npm ci` through the prepare script).
import('../dist/cli/main.js').catch((err) => {
  process.stderr.write(`amtemu: cannot start (${err && err.message ? err.message : err}); run "npm run build" first\n`);
  process.exit(70);
});
