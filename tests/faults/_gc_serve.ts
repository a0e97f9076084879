/**
 * A mist server of any tree (`deno run -A --v8-flags=--expose-gc
 * _gc_serve.ts DIR`) through its library's `serve()`, on tcp://, http:// and
 * ws:// of 127.0.0.1 port 0, that logs each address as the program does and,
 * on SIGUSR2, collects garbage and prints `heap BYTES` (the heap still in
 * use): what a closed connection retains, without the noise of garbage.
 *
 * @module
 */

const encoder = new TextEncoder();
const say = (line: string) =>
  Deno.stdout.writeSync(encoder.encode(`${line}\n`));

const dir = Deno.args[0]!;
const { serve } = await import(`${dir}/mod.ts`);
const server = await serve({
  listeners: ["tcp://127.0.0.1:0", "http://127.0.0.1:0", "ws://127.0.0.1:0"],
});
for (const url of server.addresses as string[]) {
  say(`${url.split(":")[0]!.toUpperCase()} listener on ${url}`);
}
const gc = (globalThis as { gc?: () => void }).gc!;
Deno.addSignalListener("SIGUSR2", () => {
  gc();
  gc();
  say(`heap ${Deno.memoryUsage().heapUsed}`);
});
Deno.addSignalListener("SIGTERM", async () => {
  await server.close();
  Deno.exit(0);
});
