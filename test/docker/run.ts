/**
 * Launcher for the Docker suite (`npm run test:docker`, .ci/run): runs vitest with
 * vitest.docker.config.ts only when a Docker engine is reachable. Without one it says so in
 * one clear line and exits 0 WITHOUT claiming that any test passed — CI shows "NOT RUN".
 *   node --import tsx test/docker/run.ts [extra vitest args]
 */
import { spawn } from 'node:child_process';
import { probeDockerEngine } from './engine.js';

const probe = await probeDockerEngine();
if (!probe.ok) {
  process.stdout.write(`Docker suite NOT RUN: no Docker engine reachable (${probe.reason})\n`);
  process.exit(0);
}
process.stdout.write(`Docker suite: engine ${probe.description}; running vitest -c vitest.docker.config.ts\n`);
const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '-c', 'vitest.docker.config.ts', ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('close', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
