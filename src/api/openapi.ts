/**
 * The OpenAPI 3.1 document, built from the routes' own fastify JSON schemas as they are
 * registered (no plugin, no network): params become path parameters, querystring properties
 * query parameters, body the request body; `config.response` documents the 200 answer.
 * /docs renders it with a small self-contained page.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import { ERROR_SCHEMA } from './errors.js';

declare module 'fastify' {
  /** The documentation keys @fastify/swagger would add; our collector reads them. */
  interface FastifySchema {
    tags?: string[];
    summary?: string;
    description?: string;
    hide?: boolean;
  }
}

interface Collected {
  method: string;
  url: string;
  schema: Record<string, unknown>;
  response: unknown;
}

type JsonObject = Record<string, unknown>;

export class OpenApiCollector {
  private readonly routes: Collected[] = [];

  attach(app: FastifyInstance): void {
    app.addHook('onRoute', (r: RouteOptions) => {
      const schema = (r.schema ?? {}) as JsonObject;
      if (schema['hide'] === true) return;
      const methods = Array.isArray(r.method) ? r.method : [r.method];
      for (const m of methods) {
        if (m === 'HEAD') continue;
        this.routes.push({ method: m.toLowerCase(), url: r.url, schema, response: (r.config as { response?: unknown } | undefined)?.response });
      }
    });
  }

  document(info: { title: string; version: string; tokenRequired: boolean }): JsonObject {
    const paths: Record<string, JsonObject> = {};
    for (const r of this.routes) {
      const path = r.url.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
      const parameters: JsonObject[] = [];
      const params = r.schema['params'] as { properties?: Record<string, JsonObject>; required?: string[] } | undefined;
      for (const [name, s] of Object.entries(params?.properties ?? {})) parameters.push({ name, in: 'path', required: true, schema: s, ...(s['description'] ? { description: s['description'] } : {}) });
      const query = r.schema['querystring'] as { properties?: Record<string, JsonObject>; required?: string[] } | undefined;
      for (const [name, s] of Object.entries(query?.properties ?? {})) {
        parameters.push({ name, in: 'query', required: query?.required?.includes(name) ?? false, schema: s, ...(s['description'] ? { description: s['description'] } : {}) });
      }
      const op: JsonObject = {
        operationId: `${r.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
        ...(r.schema['summary'] ? { summary: r.schema['summary'] } : {}),
        ...(r.schema['description'] ? { description: r.schema['description'] } : {}),
        ...(r.schema['tags'] ? { tags: r.schema['tags'] } : {}),
        ...(parameters.length ? { parameters } : {}),
        responses: {
          [r.method === 'delete' ? '204' : r.method === 'post' && /\/(snapshots|faults)$/.test(path) ? '201' : '200']: {
            description: 'success',
            ...(r.response ? { content: { 'application/json': { schema: r.response } } } : {}),
          },
          default: { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        },
      };
      if (r.schema['body']) op['requestBody'] = { required: true, content: { 'application/json': { schema: r.schema['body'] } } };
      if (info.tokenRequired && (path.startsWith('/api/') || path === '/metrics')) op['security'] = [{ bearer: [] }];
      (paths[path] ??= {})[r.method] = op;
    }
    return {
      openapi: '3.1.0',
      info: {
        title: info.title,
        version: info.version,
        description: 'Control API of an amtemu fleet: devices, NVRAM, power and link, host (PTHI) commands, virtual time, snapshots, fault rules, timeline and live events. Errors are {error: {code, message}}.',
      },
      components: {
        schemas: { Error: ERROR_SCHEMA },
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'required when the API is bound to a non-loopback address' } },
      },
      paths,
    };
  }
}

/** A self-contained page that lists the operations of /openapi.json (no CDN, no build). */
export const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>amtemu API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#0b3d66;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
main{max-width:1000px;margin:0 auto;padding:16px 24px}
h2{margin:24px 0 8px;font-size:16px;text-transform:uppercase;letter-spacing:.05em;color:#55627a}
details{background:#fff;border:1px solid #d8dde6;border-radius:6px;margin:6px 0}
summary{cursor:pointer;padding:8px 12px;display:flex;gap:12px;align-items:center}
.m{font:600 12px ui-monospace,monospace;padding:2px 8px;border-radius:4px;color:#fff;min-width:52px;text-align:center}
.get{background:#2f7d32}.post{background:#1565c0}.patch{background:#8e24aa}.delete{background:#c62828}
code,pre{font:12px ui-monospace,monospace}pre{background:#f0f2f5;padding:8px;border-radius:4px;overflow:auto;margin:4px 12px 12px}
.d{padding:0 12px;color:#55627a}
</style></head><body>
<header><h1>amtemu control API</h1><div id="info"></div></header>
<main id="ops">Loading <a href="/openapi.json">/openapi.json</a>…</main>
<script>
fetch('/openapi.json').then(r=>r.json()).then(doc=>{
  const esc=s=>String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
  document.getElementById('info').textContent=doc.info.description;
  const byTag={};
  for(const [path,ops] of Object.entries(doc.paths))for(const [m,op] of Object.entries(ops))(byTag[(op.tags||['other'])[0]]??=[]).push({path,m,op});
  let html='<p>Raw document: <a href="/openapi.json">/openapi.json</a> (OpenAPI '+esc(doc.openapi)+')</p>';
  for(const [tag,list] of Object.entries(byTag)){
    html+='<h2>'+esc(tag)+'</h2>';
    for(const {path,m,op} of list){
      html+='<details><summary><span class="m '+m+'">'+m.toUpperCase()+'</span><code>'+esc(path)+'</code><span>'+esc(op.summary||'')+'</span></summary>';
      if(op.description)html+='<p class="d">'+esc(op.description)+'</p>';
      if(op.parameters)html+='<p class="d">Parameters</p><pre>'+esc(op.parameters.map(p=>p.in+' '+p.name+(p.required?' (required)':'')+': '+JSON.stringify(p.schema)).join('\\n'))+'</pre>';
      if(op.requestBody)html+='<p class="d">Body</p><pre>'+esc(JSON.stringify(op.requestBody.content['application/json'].schema,null,2))+'</pre>';
      html+='</details>';
    }
  }
  document.getElementById('ops').innerHTML=html;
}).catch(e=>{document.getElementById('ops').textContent='Could not load /openapi.json: '+e});
</script></body></html>
`;
