/** Redirection (SOL/IDER/KVM on 16994/16995): protocol session, frames, auth, virtual serial console. */
export { RedirectionSession, type RedirectionDevice, type RedirectionSessionOptions, type SessionTransport } from './session.js';
export { SolConsole, solConsoleFor, type SolConsoleOptions, type SolInputListener } from './sol-console.js';
export { FrameReader, frameLength, type FrameContext } from './frames.js';
export { AUTH_TYPE, MSG, SESSION_TAGS, SUPPORTED_AUTH_TYPES, REDIRECTION_URI, type RedirectionCode, type SessionTag } from './constants.js';
export { md5hex } from './auth.js';
