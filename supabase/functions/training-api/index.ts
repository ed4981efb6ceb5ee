// The training-api edge function as Supabase deploys it (`supabase functions deploy
// training-api`): every request needs a bearer token, and the database is SUPABASE_DB_URL.

import { configFromEnv, createHandler } from "./app.ts";

const api = await createHandler(configFromEnv());
Deno.serve(api.handler);
