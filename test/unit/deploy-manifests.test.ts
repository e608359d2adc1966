/**
 * The deployment files parse and hang together: every Kubernetes manifest under deploy/k8s has
 * apiVersion/kind/metadata and the fields its kind needs, selectors match their pod labels, the
 * StatefulSet names a headless Service, and every `amtemu` flag used in the shard script,
 * the manifests and docker-compose.yml is one the CLI really has (no invented flags).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildProgram } from '../../src/cli/program.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const K8S = path.join(ROOT, 'deploy/k8s');

type Doc = Record<string, unknown> & { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string; labels?: Record<string, string> }; spec?: Record<string, unknown>; data?: Record<string, string> };

function load(file: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const d of docs) expect(d.errors, `${file}: ${d.errors.map((e) => e.message).join('; ')}`).toEqual([]);
  return docs.map((d) => d.toJSON() as Doc).filter((d) => d !== null);
}

const manifests = readdirSync(K8S)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .flatMap((f) => load(path.join(K8S, f)).map((doc) => ({ file: f, doc })));

function byKind(kind: string): Doc[] {
  return manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc);
}

interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: { containers: Array<{ name: string; image: string; args?: string[]; command?: string[] }>; initContainers?: Array<{ name: string; image: string; args?: string[] }>; volumes?: Array<{ name: string; configMap?: { name: string } }> };
}

/** Long options of an amtemu subcommand (e.g. "serve") from the real CLI definition. */
function flagsOf(command: string): Set<string> {
  const cmd = buildProgram().commands.find((c: Command) => c.name() === command);
  if (!cmd) throw new Error(`no amtemu command "${command}"`);
  return new Set(cmd.options.map((o) => o.long).filter((l): l is string => typeof l === 'string'));
}

describe('deploy/k8s manifests', () => {
  it('every document has apiVersion, kind and a name; namespaced kinds are in the amtemu namespace', () => {
    expect(manifests.length).toBeGreaterThanOrEqual(6);
    const known: Record<string, string> = { Namespace: 'v1', ConfigMap: 'v1', Service: 'v1', StatefulSet: 'apps/v1', Deployment: 'apps/v1' };
    for (const { file, doc } of manifests) {
      expect(Object.keys(known), `${file}: unexpected kind ${doc.kind}`).toContain(doc.kind);
      expect(doc.apiVersion, `${file} ${doc.kind}`).toBe(known[doc.kind!]);
      expect(doc.metadata?.name, `${file} ${doc.kind}`).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      if (doc.kind !== 'Namespace') expect(doc.metadata?.namespace, `${file} ${doc.kind}`).toBe('amtemu');
    }
  });

  it('kustomization lists every manifest file', () => {
    const k = load(path.join(K8S, 'kustomization.yaml'))[0] as { resources: string[] };
    const files = [...new Set(manifests.map((m) => m.file))].sort();
    expect([...k.resources].sort()).toEqual(files);
  });

  it('StatefulSet: headless serviceName, selector = pod labels, ordinal from the downward API, script from the ConfigMap', () => {
    const [sts] = byKind('StatefulSet');
    expect(sts).toBeDefined();
    const spec = sts!.spec as { serviceName: string; replicas: number; selector: { matchLabels: Record<string, string> }; template: PodTemplate; volumeClaimTemplates?: unknown[] };
    const svc = byKind('Service').find((s) => s.metadata?.name === spec.serviceName);
    expect(svc, `headless Service ${spec.serviceName}`).toBeDefined();
    expect((svc!.spec as { clusterIP?: string }).clusterIP).toBe('None');
    expect((svc!.spec as { selector: Record<string, string> }).selector).toEqual(spec.selector.matchLabels);
    expect(spec.template.metadata.labels).toMatchObject(spec.selector.matchLabels);
    expect(spec.replicas).toBeGreaterThan(0);
    const fleet = spec.template.spec.containers.find((c) => c.name === 'fleet')!;
    expect(fleet.image).toBeTruthy();
    const env = (fleet as unknown as { env: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }> }).env;
    expect(env.find((e) => e.name === 'SHARD_ORDINAL')?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.labels['apps.kubernetes.io/pod-index']");
    for (const name of ['SHARD_OCTET_BASE', 'AMTEMU_COUNT', 'AMTEMU_STATE', 'AMTEMU_PROFILE', 'AMTEMU_DOMAIN', 'AMTEMU_SEED', 'AMTEMU_TIME_SCALE']) {
      expect(env.find((e) => e.name === name)?.value, name).toBeTruthy();
    }
    // Count × replicas stays inside the CLI's per-shard limit and 127/8.
    const count = Number(env.find((e) => e.name === 'AMTEMU_COUNT')!.value);
    const base = Number(env.find((e) => e.name === 'SHARD_OCTET_BASE')!.value);
    expect(count).toBeLessThanOrEqual(20_000);
    expect(base + spec.replicas - 1).toBeLessThanOrEqual(254);
    const cmName = spec.template.spec.volumes?.find((v) => v.configMap)?.configMap?.name;
    const cm = byKind('ConfigMap').find((c) => c.metadata?.name === cmName);
    expect(cm?.data?.['shard.sh']).toContain('exec amtemu serve');
  });

  it('Deployment: selector = pod labels, a Service selects it on the hello port, its config is a valid provisioning config shape', () => {
    const [dep] = byKind('Deployment');
    const spec = dep!.spec as { selector: { matchLabels: Record<string, string> }; template: PodTemplate };
    expect(spec.template.metadata.labels).toMatchObject(spec.selector.matchLabels);
    const svc = byKind('Service').find((s) => s.metadata?.name === 'amtemu-provisioning');
    expect((svc!.spec as { selector: Record<string, string>; ports: Array<{ port: number }> }).selector).toEqual(spec.selector.matchLabels);
    expect((svc!.spec as { ports: Array<{ port: number }> }).ports.map((p) => p.port)).toContain(9971);
    const cm = byKind('ConfigMap').find((c) => c.metadata?.name === 'amtemu-provisioning');
    const cfg = parseAllDocuments(cm!.data!['provision-server.yaml']!)[0]!.toJSON() as { profiles: unknown[]; chains: Array<{ chain: string; key: string }> };
    expect(cfg.profiles.length).toBeGreaterThan(0);
    expect(cfg.chains[0]).toMatchObject({ chain: '/pki/chain.pem', key: '/pki/leaf.key' });
  });

  it('uses only amtemu flags that exist: shard script, Deployment args, docker-compose.yml', () => {
    const serve = flagsOf('serve');
    const prov = flagsOf('provision-server');
    const script = byKind('ConfigMap').find((c) => c.metadata?.name === 'amtemu-shard')!.data!['shard.sh']!;
    const serveFlags = [...script.slice(script.indexOf('exec amtemu serve')).matchAll(/(--[a-z][a-z-]*)/g)].map((m) => m[1]!);
    expect(serveFlags.length).toBeGreaterThan(5);
    for (const f of serveFlags) expect(serve.has(f), `serve ${f}`).toBe(true);
    const [dep] = byKind('Deployment');
    const provArgs = (dep!.spec as { template: PodTemplate }).template.spec.containers[0]!.args!;
    expect(provArgs[0]).toBe('provision-server');
    for (const f of provArgs.filter((a) => a.startsWith('--'))) expect(prov.has(f), `provision-server ${f}`).toBe(true);

    const compose = load(path.join(ROOT, 'docker-compose.yml'))[0] as { services: Record<string, { command?: string[] }> };
    const pki = buildProgram().commands.find((c) => c.name() === 'pki')!.commands.find((c) => c.name() === 'init')!;
    const flags: Record<string, Set<string>> = { serve, 'provision-server': prov, pki: new Set(pki.options.map((o) => o.long!)) };
    for (const [name, svc] of Object.entries(compose.services)) {
      const cmd = svc.command ?? [];
      if (!(cmd[0]! in flags)) continue;
      for (const f of cmd.filter((a) => a.startsWith('--'))) expect(flags[cmd[0]!]!.has(f), `compose ${name}: ${cmd[0]} ${f}`).toBe(true);
    }
  });
});
