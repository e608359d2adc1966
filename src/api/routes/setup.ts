/**
 * Manual setup paths a technician takes at the PC (issue 10 items 2–3): the MEBx screens, one
 * route per operation from the same table the CLI and scenario steps use
 * (src/device/mebx-ops.ts), and USB one-touch setup with a setup.bin file. A firmware refusal is
 * an HTTP error carrying the firmware's code (MEBX_PASSWORD_WRONG, INVALID_PASSWORD,
 * SETUP_BIN_INVALID, …), and it is on the device's timeline as `mebx.refused` / `usb.refused`.
 */
import type { FastifyInstance } from 'fastify';
import { AmtError } from '../../common/errors.js';
import { MEBX_OPERATIONS, runMebxOperation, type MebxParam } from '../../device/mebx-ops.js';
import { applyUsbSetup } from '../../device/usb-setup.js';
import { deviceOr404, ID_PARAMS, type ApiDeps } from '../deps.js';
import { summarize } from '../device-view.js';

/**
 * Standard base64, as the JSON form of an upload carries setup.bin. The files are small (a header
 * and a few dozen 1 KB records), so the API's 1 MB body limit covers them in either form.
 */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function paramSchema(p: MebxParam): Record<string, unknown> {
  if (p.kind === 'port') return { type: 'integer', minimum: 1, maximum: 65535, description: p.description };
  return { type: 'string', maxLength: 300, description: p.description, ...(p.oneOf ? { enum: [...p.oneOf] } : {}) };
}

export function registerSetupRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { emu, observer } = deps;

  for (const o of MEBX_OPERATIONS) {
    const properties: Record<string, unknown> = { password: { type: 'string', maxLength: 64, description: 'the current MEBx password' } };
    for (const p of o.params) properties[p.name] = paramSchema(p);
    app.post(`/api/devices/:id/mebx/${o.op}`, {
      schema: {
        tags: ['setup'],
        summary: `MEBx: ${o.description}`,
        description: "Runs the MEBx screen with the firmware's validation; a refusal answers 4xx with its code and is recorded as `mebx.refused`.",
        params: ID_PARAMS,
        body: { type: 'object', additionalProperties: false, required: ['password', ...o.params.filter((p) => !p.optional).map((p) => p.name)], properties },
      },
    }, async (req) => {
      const d = deviceOr404(deps, (req.params as { id: string }).id);
      const { password, ...params } = req.body as { password: string } & Record<string, unknown>;
      runMebxOperation(d, o.op, password, params);
      return summarize(emu, d, observer.lastEvent.get(d.id));
    });
  }

  app.post('/api/devices/:id/usb-setup', {
    schema: {
      tags: ['setup'],
      summary: 'USB one-touch setup: apply the next unconsumed record of a setup.bin (factory state only)',
      description: 'Send the file either as the raw body (Content-Type: application/octet-stream) or as JSON {"setupBin": "<base64>", "fileName"?: "…"}. '
        + 'Answers what was applied and the file as the BIOS leaves it (base64, the record marked consumed unless the header says otherwise).',
      params: ID_PARAMS,
    },
  }, async (req) => {
    const d = deviceOr404(deps, (req.params as { id: string }).id);
    const { buf, fileName } = setupBinFromBody(req.body);
    const r = applyUsbSetup(d, buf, fileName);
    return { device: summarize(emu, d, observer.lastEvent.get(d.id)), record: r.record, applied: r.applied, ignored: r.ignored, consumed: r.consumed, setupBin: r.file.toString('base64') };
  });
}

function setupBinFromBody(body: unknown): { buf: Buffer; fileName: string } {
  if (Buffer.isBuffer(body)) return { buf: body, fileName: 'setup.bin' };
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    const extra = Object.keys(b).filter((k) => k !== 'setupBin' && k !== 'fileName');
    if (extra.length > 0) throw new AmtError('BAD_INPUT', `body: unknown field ${extra.join(', ')}; expected setupBin (base64) and optional fileName`);
    const s = b['setupBin'];
    if (typeof s !== 'string' || s.length === 0) throw new AmtError('BAD_INPUT', 'body: setupBin must be the setup.bin file in base64 (or send the raw file as application/octet-stream)');
    const compact = s.replace(/\s+/g, '');
    if (!BASE64.test(compact)) throw new AmtError('BAD_INPUT', 'body: setupBin is not base64');
    const name = b['fileName'];
    if (name !== undefined && (typeof name !== 'string' || name.length === 0 || name.length > 255 || /[\r\n]/.test(name))) throw new AmtError('BAD_INPUT', 'body: fileName must be a short one-line name');
    return { buf: Buffer.from(compact, 'base64'), fileName: (name as string | undefined) ?? 'setup.bin' };
  }
  throw new AmtError('BAD_INPUT', 'body: send setup.bin as application/octet-stream or as JSON {"setupBin": "<base64>"}');
}
