-- GET BENCH_PATH (a list page, say), with the bearer token when there is one.
local token = os.getenv("BENCH_TOKEN")
wrk.path = os.getenv("BENCH_PATH") or "/tasks?limit=50"
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
