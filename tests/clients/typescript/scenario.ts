// A client team's program on the generated types (`make sdk`: schema.d.ts) and openapi-fetch:
// `node out/scenario.js BASE_URL`. tests/clients/test_typescript_sdk.py compiles it with tsc --strict next to
// a freshly generated schema.d.ts and runs it against the live server; it exits non-zero at the first surprise.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Task = components["schemas"]["Task"];

// Node's globals without @types/node (package.json has none): the one this program uses.
declare const process: { argv: string[] };

function check(condition: boolean, what: string, value?: unknown): asserts condition {
  if (!condition) throw new Error(`${what}: ${JSON.stringify(value)}`);
}

const baseUrl = process.argv[2];
const username = `ts-${crypto.randomUUID().slice(0, 12)}`;
const password = crypto.randomUUID();
const publicClient = createClient<paths>({ baseUrl });

const signUp = await publicClient.POST("/users", { body: { username, password } });
check(signUp.response.status === 201 && signUp.data?.username === username, "sign-up", signUp.error);

// The token endpoint takes a form (OAuth2); openapi-fetch sends JSON unless told otherwise, which gets 415.
const grant = { grant_type: "password", username, password } as const;
const asJson = await publicClient.POST("/auth/token", { body: grant });
check(asJson.response.status === 415 && asJson.error?.status === 415, "a JSON token request", asJson.error);
const granted = await publicClient.POST("/auth/token", {
  body: grant,
  headers: { "Content-Type": "application/x-www-form-urlencoded" },
  bodySerializer: (body) => new URLSearchParams(body),
});
check(granted.data !== undefined, "token", granted.error);

const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${granted.data.access_token}` } });
const created: Task[] = [];
for (const body of [{ title: "Only a title" }, { title: "Urgent", description: "Today.", priority: 5 }, { title: "Third" }]) {
  const { data, error, response } = await client.POST("/tasks", { body });
  check(data !== undefined && response.headers.get("Location") === `/tasks/${data.id}`, "create", error);
  created.push(data);
}
check(created[0].priority === 1 && created[0].description === null, "the defaults", created[0]);

const listed: Task[] = [];
let cursor: string | undefined;
let pages = 0;
do {
  const { data, error } = await client.GET("/tasks", { params: { query: { limit: 2, cursor } } });
  check(data !== undefined, "list", error);
  listed.push(...data.items);
  pages += 1;
  cursor = data.next_cursor ?? undefined;
} while (cursor !== undefined);
check(JSON.stringify(listed) === JSON.stringify(created) && pages === 2, "the pages", { pages, listed });

const got = await client.GET("/tasks/{task_id}", { params: { path: { task_id: created[1].id } } });
check(got.data?.title === "Urgent", "get", got.error);

const missing = await client.GET("/tasks/{task_id}", { params: { path: { task_id: created[2].id + 1000 } } });
check(missing.error?.status === 404 && missing.error.title === "Not Found", "a missing task", missing.error);

const invalid = await client.POST("/tasks", { body: { title: "x", priority: 99 } });
const problem = invalid.error;
check(problem?.status === 422, "priority 99", problem);
const violations = problem?.errors ?? [];
check(violations[0]?.pointer === "/priority", "the violation", violations);

// Optimistic concurrency: the ETag of the version read, sent back in If-Match; a stale one is 412.
const read = await client.GET("/tasks/{task_id}", { params: { path: { task_id: created[0].id } } });
const etag = read.response.headers.get("etag");
check(etag !== null && /^"[0-9]+"$/.test(etag), "the ETag of a read", etag);
const stale = await client.PATCH("/tasks/{task_id}", {
  params: { path: { task_id: created[0].id }, header: { "If-Match": `"${Number(etag.slice(1, -1)) + 1}"` } },
  body: { priority: 2 },
});
check(stale.error?.status === 412, "a stale If-Match", stale.error);
const fresh = await client.PATCH("/tasks/{task_id}", {
  params: { path: { task_id: created[0].id }, header: { "If-Match": etag } },
  body: { priority: 2 },
});
check(fresh.data?.priority === 2 && fresh.response.headers.get("etag") !== etag, "a current If-Match", fresh.error);

console.log(`typescript scenario: ok (${created.length} tasks, ${pages} pages, 404, 412 and 422 as problems)`);
