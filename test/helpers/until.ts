/** Wait until `cond` holds, polling every 20 ms, at most 250 times (≤ 5 s of wall time). */
export async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}
