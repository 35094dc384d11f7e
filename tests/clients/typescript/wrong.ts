// Mistakes that the generated types must reject: tests/clients/test_typescript_sdk.py runs tsc on this file and
// expects an error on each line marked `expect-error` and nowhere else. It is never run.
// Not caught, so not here: an unknown property in a body (openapi-fetch infers the body's type); the server's 422 is.
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

const client = createClient<paths>({ baseUrl: "http://127.0.0.1:1" });

await client.POST("/tasks", { body: { title: "A task", priority: "high" } }); // expect-error: priority is an integer
await client.POST("/tasks", { body: { description: "No title" } }); // expect-error: title is required
await client.PATCH("/tasks/{task_id}", { params: { path: { task_id: 1 } }, body: { completed: "yes" } }); // expect-error: a boolean
await client.GET("/tasks", { params: { query: { limit: "10" } } }); // expect-error: limit is an integer
const { data } = await client.GET("/tasks/{task_id}", { params: { path: { task_id: 1 } } });
const title: number | undefined = data?.title; // expect-error: a title is a string
await client.GET("/task"); // expect-error: no such path
