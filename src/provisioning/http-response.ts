/**
 * Incremental HTTP/1.1 response framing for the WS-Man client: status line, headers, then a
 * body framed by Content-Length, chunked transfer coding (AMT sends 4-digit upper-case hex chunk
 * sizes, reference §6.2) or connection close.
 */
export interface HttpResponse {
  status: number;
  reason: string;
  /** Lower-case header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export class HttpFramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HttpFramingError';
  }
}

const MAX_HEAD = 64 * 1024;
const MAX_BODY = 16 * 1024 * 1024;

/**
 * Try to take one complete response from the start of `buf`.
 * Returns undefined when more bytes are needed; `ended` says the peer closed (body to EOF).
 */
export function takeHttpResponse(buf: Buffer, ended = false): { response: HttpResponse; consumed: number } | undefined {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) {
    if (buf.length > MAX_HEAD) throw new HttpFramingError(`response head larger than ${MAX_HEAD} bytes`);
    if (ended) throw new HttpFramingError(buf.length === 0 ? 'connection closed before any response' : 'connection closed inside the response head');
    return undefined;
  }
  const lines = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!m) throw new HttpFramingError(`bad status line: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) throw new HttpFramingError(`bad header line: ${JSON.stringify(line.slice(0, 80))}`);
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    headers[k] = headers[k] !== undefined ? `${headers[k]}, ${v}` : v;
  }
  const status = Number(m[1]);
  const reason = m[2] ?? '';
  const start = headEnd + 4;
  const te = headers['transfer-encoding']?.toLowerCase();
  if (te && te.includes('chunked')) {
    const r = decodeChunked(buf, start, ended);
    return r ? { response: { status, reason, headers, body: r.body }, consumed: r.end } : undefined;
  }
  const cl = headers['content-length'];
  if (cl !== undefined) {
    if (!/^\d+$/.test(cl)) throw new HttpFramingError(`bad Content-Length: ${cl}`);
    const n = Number(cl);
    if (n > MAX_BODY) throw new HttpFramingError(`body of ${n} bytes is too large`);
    if (buf.length - start < n) {
      if (ended) throw new HttpFramingError(`connection closed after ${buf.length - start} of ${n} body bytes`);
      return undefined;
    }
    return { response: { status, reason, headers, body: buf.subarray(start, start + n) }, consumed: start + n };
  }
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) return { response: { status, reason, headers, body: Buffer.alloc(0) }, consumed: start };
  // No framing: the body runs to the end of the connection.
  if (!ended) return undefined;
  return { response: { status, reason, headers, body: buf.subarray(start) }, consumed: buf.length };
}

function decodeChunked(buf: Buffer, from: number, ended: boolean): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  let off = from;
  let total = 0;
  for (let guard = 0; guard < 1_000_000; guard++) {
    const lineEnd = buf.indexOf('\r\n', off);
    if (lineEnd < 0) return need(ended, 'inside a chunk size line');
    const sizeText = buf.subarray(off, lineEnd).toString('latin1').split(';')[0]!.trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw new HttpFramingError(`bad chunk size: ${JSON.stringify(sizeText.slice(0, 20))}`);
    const size = parseInt(sizeText, 16);
    off = lineEnd + 2;
    if (size === 0) {
      // Trailers (none expected from AMT) end with an empty line.
      const trailerEnd = buf.indexOf('\r\n\r\n', off - 2);
      if (trailerEnd < 0) return need(ended, 'before the end of the chunked body');
      return { body: Buffer.concat(parts), end: trailerEnd + 4 };
    }
    total += size;
    if (total > MAX_BODY) throw new HttpFramingError(`chunked body larger than ${MAX_BODY} bytes`);
    if (buf.length < off + size + 2) return need(ended, 'inside a chunk');
    parts.push(buf.subarray(off, off + size));
    if (buf[off + size] !== 0x0d || buf[off + size + 1] !== 0x0a) throw new HttpFramingError('chunk not followed by CRLF');
    off += size + 2;
  }
  throw new HttpFramingError('too many chunks');
}

function need(ended: boolean, where: string): undefined {
  if (ended) throw new HttpFramingError(`connection closed ${where}`);
  return undefined;
}
