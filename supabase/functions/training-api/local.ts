// The training-api function on this machine, as `mltrack api` runs it:
//
//   SUPABASE_DB_URL=postgresql://... deno run --allow-net --allow-env local.ts --port 5000
//
// Bound to 127.0.0.1 only. A request without a token acts as the local service role (what a
// training script on this machine may do anyway with the database URL); a request with a token
// is verified and runs in the token's role, as deployed.

import { configFromEnv, createHandler } from "./app.ts";

function portOf(args: string[]): number {
  const at = args.indexOf("--port");
  const port = at === -1 ? 5000 : Number(args[at + 1]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be an integer between 0 and 65535 (got ${args[at + 1]})`);
  }
  return port;
}

const api = await createHandler(configFromEnv("service_role"));
const server = Deno.serve({
  hostname: "127.0.0.1",
  port: portOf(Deno.args),
  onListen: ({ hostname, port }) => {
    // `mltrack api` waits for this line and reads the port from it.
    console.log(`training-api listening on http://${hostname}:${port}/api/training/`);
  },
}, api.handler);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await server.shutdown();
    await api.close();
    Deno.exit(0);
  });
}
