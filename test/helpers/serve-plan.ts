import { Command } from 'commander';
import { planServe, registerServeCommand, type ServeOptions } from '../../src/cli/serve-command.js';

/** Parse `amtemu serve` flags through the real command definition, then plan (nothing starts). */
export function planServeArgs(args: string[]) {
  const program = new Command().exitOverride();
  let captured: { opts: ServeOptions; typed: (n: string) => boolean } | undefined;
  registerServeCommand(program);
  const serve = program.commands.find((c) => c.name() === 'serve')!;
  serve.configureOutput({ writeErr: () => undefined });
  serve.action((opts: ServeOptions, cmd: Command) => {
    captured = { opts, typed: (n) => cmd.getOptionValueSource(n) === 'cli' };
  });
  program.parse(['node', 'amtemu', 'serve', ...args]);
  return planServe(captured!.opts, captured!.typed as never);
}
