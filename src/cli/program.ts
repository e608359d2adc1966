/**
 * The `amtemu` command tree. Each family of subcommands lives in its own module and registers
 * itself here; main.ts only runs the program and turns errors into one line.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerNvramCommands } from './nvram-command.js';
import { registerPkiCommands } from './pki-command.js';
import { registerServeCommand } from './serve-command.js';
import { registerDemoCommand } from './demo-command.js';
import { registerProvisionServerCommand } from './provision-server-command.js';
import { registerAgentCommand } from './agent-command.js';
import { registerRunCommand } from './run-command.js';
import { registerMebxCommands } from './mebx-command.js';
import { registerUsbSetupCommand } from './usb-setup-command.js';
import { recordPortFlags } from './listen-errors.js';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command('amtemu')
    .description('A software Intel AMT / Management Engine: emulated vPro PCs that provision like firmware on the wire.')
    .version(packageVersion(), '-V, --version')
    .showSuggestionAfterError(true)
    .configureOutput({
      // Commander prints "error: ..." itself; keep it to one line with our prefix.
      writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `amtemu: ${s}` : s),
    })
    .exitOverride()
    // A listen that fails later names the flag that chose its port (listen-errors.ts).
    .hook('preAction', (_program, action) => recordPortFlags(action));
  registerNvramCommands(program);
  registerPkiCommands(program);
  registerServeCommand(program);
  registerDemoCommand(program);
  registerProvisionServerCommand(program);
  registerAgentCommand(program);
  registerRunCommand(program);
  registerMebxCommands(program);
  registerUsbSetupCommand(program);
  return program;
}
