/**
 * Every API failure is `{error: {code, message}}` with one line of message: the same codes the
 * timeline and scenario reports use (AmtErrorCode) plus a few that only HTTP needs.
 */
import { describeAjvErrors } from '../common/yaml-location.js';
import type { ErrorObject } from 'ajv';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isAmtError, type AmtErrorCode } from '../common/errors.js';

export type ApiErrorCode = AmtErrorCode | 'NOT_FOUND' | 'UNAUTHORIZED' | 'CLOCK_NOT_VIRTUAL' | 'TIME_BACKWARDS' | 'PAYLOAD_TOO_LARGE' | 'INTERNAL';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
} as const;

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, '; ').slice(0, 500);
}

/** AmtError codes that mean "the device is not in a state for that", not "you sent garbage". */
const CONFLICT_CODES = new Set<string>([
  'ILLEGAL_TRANSITION', 'INVALID_AMT_MODE', 'NOT_PERMITTED', 'DATA_MISSING', 'HASH_TABLE_FULL', 'HASH_DUPLICATE',
  'PSK_NOT_SUPPORTED', 'REMOTE_CONFIG_NEEDS_WIRED_LAN', 'SETUP_BIN_NO_RECORD',
  'HOST_OFF',
]);

/** A wrong MEBx password is a refused login (the request was well formed). */
const FORBIDDEN_CODES = new Set<string>(['MEBX_PASSWORD_WRONG']);

/**
 * The request's schema errors in the words fleet and scenario files use (`querystring.state must
 * be one of "Pre", …`): ajv's own text does not list allowed values.
 */
function validationMessage(validation: unknown, context: string | undefined): string | undefined {
  if (!Array.isArray(validation) || validation.length === 0) return undefined;
  const problems = describeAjvErrors(validation as ErrorObject[], context ?? 'the request');
  if (problems.length === 0) return undefined;
  return problems.map((p) => (context && !p.message.startsWith(context) ? `${context}.${p.message}` : p.message)).join('; ');
}

export function toErrorReply(e: unknown): { status: number; body: ErrorBody } {
  if (e instanceof ApiError) return { status: e.status, body: { error: { code: e.code, message: oneLine(e.message) } } };
  if (isAmtError(e)) return { status: FORBIDDEN_CODES.has(e.code) ? 403 : CONFLICT_CODES.has(e.code) ? 409 : 400, body: { error: { code: e.code, message: oneLine(e.message) } } };
  const fe = e as Partial<FastifyError> & { validation?: unknown; validationContext?: string };
  if (fe.validation) return { status: 400, body: { error: { code: 'BAD_INPUT', message: oneLine(validationMessage(fe.validation, fe.validationContext) ?? fe.message ?? 'invalid request') } } };
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE', message: 'request body is too large' } } };
  if (typeof fe.code === 'string' && fe.code.startsWith('FST_ERR_CTP')) {
    return { status: fe.statusCode ?? 400, body: { error: { code: 'BAD_INPUT', message: oneLine(fe.message ?? 'bad request body') } } };
  }
  if (e instanceof RangeError || e instanceof TypeError) return { status: 400, body: { error: { code: 'BAD_INPUT', message: oneLine(e.message) } } };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: { error: { code: 'BAD_INPUT', message: oneLine(fe.message ?? 'bad request') } } };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: oneLine(e instanceof Error ? e.message : String(e)) } } };
}

export function errorHandler(e: unknown, _req: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toErrorReply(e);
  void reply.status(status).send(body);
}

export function notFound(what: string): ApiError {
  return new ApiError(404, 'NOT_FOUND', what);
}
