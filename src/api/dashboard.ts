/**
 * The dashboard: plain HTML, CSS and JS from src/api/dashboard/, read once at start-up and
 * served from memory (no build step, nothing fetched from the network).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

function assetDir(): URL {
  // From src/api (tsx) the assets sit next to this file; from a compiled dist/api, in src/api.
  const here = new URL('./dashboard/', import.meta.url);
  return existsSync(new URL('index.html', here)) ? here : new URL('../../src/api/dashboard/', import.meta.url);
}

export function registerDashboard(app: FastifyInstance, opts: { tokenRequired: boolean }): void {
  const dir = assetDir();
  const assets = new Map<string, string>();
  for (const name of Object.keys(FILES)) assets.set(name, readFileSync(new URL(name, dir), 'utf8'));
  const index = assets.get('index.html')!.replace('data-token-required="false"', `data-token-required="${String(opts.tokenRequired)}"`);
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.type(FILES['index.html']!).send(index));
  // Browsers ask for it on every page; an empty answer keeps their consoles clean.
  app.get('/favicon.ico', { schema: { hide: true } }, async (_req, reply) => reply.status(204).send());
  app.get('/dashboard/:file', { schema: { hide: true, params: { type: 'object', properties: { file: { type: 'string', maxLength: 32 } } } } }, async (req, reply) => {
    const file = (req.params as { file: string }).file;
    const body = assets.get(file);
    if (!body || file === 'index.html') return reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no dashboard file ${file}` } });
    return reply.type(FILES[file]!).header('cache-control', 'no-cache').send(body);
  });
}
