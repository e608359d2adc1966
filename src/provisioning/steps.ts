/**
 * The provisioning server's step record: one event per WS-Man call or decision, so the demo can
 * draw a timeline and a sequence diagram, and a per-device outcome with a reason code.
 */
import { WsmanError } from './wsman-xml.js';

export interface ProvisioningEvent {
  /** Clock time (virtual ms under a VirtualClock). */
  t: number;
  deviceIp: string;
  step: string;
  ok: boolean;
  detail: Record<string, unknown>;
  code?: string;
}

export type StepEmitter = (step: string, ok: boolean, detail?: Record<string, unknown>, code?: string) => void;

/** A failed step that ends the session; `code` is what the device record shows. */
export class ProvisioningStepError extends Error {
  constructor(
    readonly step: string,
    readonly code: string,
    message: string,
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ProvisioningStepError';
  }
}

/**
 * Run one step: emit ok with what `fn` returns as detail, or emit the failure and throw a
 * ProvisioningStepError carrying the WS-Man error code.
 */
export async function step<T>(emit: StepEmitter, name: string, fn: () => Promise<T>, detailOf: (v: T) => Record<string, unknown> = () => ({})): Promise<T> {
  try {
    const v = await fn();
    emit(name, true, detailOf(v));
    return v;
  } catch (e) {
    if (e instanceof ProvisioningStepError) {
      emit(name, false, { message: e.message, ...e.detail }, e.code);
      throw e;
    }
    const code = e instanceof WsmanError ? e.code : 'INTERNAL_ERROR';
    const detail = e instanceof WsmanError ? { message: e.message, ...e.detail } : { message: (e as Error).message };
    emit(name, false, detail, code);
    throw new ProvisioningStepError(name, code, (e as Error).message, detail);
  }
}

/** A method whose ReturnValue must be 0. */
export function expectZero(method: string, rv: number): void {
  if (rv !== 0) throw new ProvisioningStepError(method, 'WSMAN_RETURN_VALUE', `${method} returned ${rv}`, { returnValue: rv });
}
