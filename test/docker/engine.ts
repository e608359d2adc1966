/**
 * Is a Docker engine reachable? testcontainers' own strategy chain (DOCKER_HOST,
 * ~/.testcontainers.properties, the default socket, rootless, …) decides; the probe is bounded
 * in time so a hanging socket cannot hold CI.
 */
export type EngineProbe = { ok: true; description: string } | { ok: false; reason: string };

export async function probeDockerEngine(limitMs = 20_000): Promise<EngineProbe> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<EngineProbe>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: `no answer within ${limitMs / 1000} s` }), limitMs);
    timer.unref();
  });
  const probe = (async (): Promise<EngineProbe> => {
    try {
      const { getContainerRuntimeClient } = await import('testcontainers');
      const client = await getContainerRuntimeClient();
      const info = client.info.containerRuntime;
      return { ok: true, description: `${info.host} (${info.operatingSystem}, server ${info.serverVersion})` };
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0] ?? String(e);
      return { ok: false, reason: msg };
    }
  })();
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
