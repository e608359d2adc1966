import type { Command } from 'commander';
import { AmtError } from '../common/errors.js';
import { runDemo, type DemoFlow } from './demo.js';
import { prepareReportDir } from './output-paths.js';
import { parseNumberFlag } from './serve-command.js';

function parseFlow(v: string | undefined): DemoFlow[] {
  if (v === undefined || v === 'all') return ['bare-metal', 'agent-initiated'];
  if (v === 'bare-metal' || v === 'agent-initiated') return [v];
  throw new AmtError('BAD_INPUT', `demo flow must be bare-metal, agent-initiated or all, got "${v}"`);
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('bare-metal and agent-initiated remote configuration side by side, on real sockets in scaled time')
    .argument('[flow]', 'bare-metal | agent-initiated | all', 'all')
    .option('--time-scale <f>', 'virtual time runs F times real time', parseNumberFlag('time-scale', 0), 10)
    .option('--out <dir>', 'where the JSON timeline and the Mermaid diagram go', 'amtemu-demo')
    .option('--timeout <seconds>', 'give up after this many real seconds', parseNumberFlag('timeout', 0), 120)
    .option('--no-colour', 'plain output even on a terminal')
    .action(async (flow: string, opts: { timeScale: number; out: string; timeout: number; colour: boolean }) => {
      const flows = parseFlow(flow);
      // Before the PKI, the fleet and two minutes of demo: the files must have somewhere to go.
      prepareReportDir('--out', opts.out);
      const result = await runDemo({
        flows,
        timeScale: opts.timeScale,
        outDir: opts.out,
        colour: opts.colour && Boolean(process.stdout.isTTY),
        limitMs: opts.timeout * 1000,
        out: (l) => process.stdout.write(`${l}\n`),
      });
      // Exit 0 only when every device reached configured (issue 6).
      if (!result.ok) process.exitCode = 1;
    });
}
