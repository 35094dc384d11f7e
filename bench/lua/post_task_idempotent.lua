-- POST /tasks as a client that may retry: the same body as post_task.lua, with an Idempotency-Key of its
-- own on every request (unique per wrk run, thread and request), with the bearer token when there is one.
local token = os.getenv("BENCH_TOKEN")
local body = '{"title": "Write the release notes", "description": "bench", "priority": 3}'
local threads = 0
local counter = 0
local nonce = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + thread_id)
  nonce = math.random(1, 1000000000)
end

request = function()
  counter = counter + 1
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Idempotency-Key"] = string.format("bench-%d-%d-%d", nonce, thread_id, counter)
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("POST", "/tasks", headers, body)
end
