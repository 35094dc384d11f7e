-- POST /tasks with a small JSON body, with the bearer token when there is one.
local token = os.getenv("BENCH_TOKEN")
wrk.method = "POST"
wrk.path = "/tasks"
wrk.body = '{"title": "Write the release notes", "description": "bench", "priority": 3}'
wrk.headers["Content-Type"] = "application/json"
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
