/**
 * `amtemu agent`: the reference OS agent (src/provisioning/agent.ts) talks to a device's host
 * interface in-process — there is no MEI driver between processes — so it runs inside the
 * emulator (`amtemu demo`, scenarios, the programmatic API). The CLI form explains that.
 */
import type { Command } from 'commander';

export const AGENT_CLI_NOTE = [
  'amtemu agent: the OS agent drives an emulated device\'s host interface (MEI/HECI) in-process,',
  'so it runs inside a running emulator, not as a separate process.',
  'Use `amtemu demo` (agent-initiated configuration beside bare metal), a scenario step,',
  'or the API: new OsAgent({ device }).start() from src/provisioning/agent.ts.',
].join('\n');

export function registerAgentCommand(program: Command, out: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): void {
  program
    .command('agent')
    .description('reference OS agent (agent-initiated remote configuration); runs in-process inside the emulator')
    .action(() => {
      out(AGENT_CLI_NOTE);
    });
}
