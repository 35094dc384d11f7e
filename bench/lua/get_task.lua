-- GET /tasks/{id} over ids 1..N (N from the environment), with the bearer token when there is one.
local ids = tonumber(os.getenv("BENCH_IDS") or "1000")
local token = os.getenv("BENCH_TOKEN")
local counter = 0
request = function()
  counter = counter + 1
  local headers = {}
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("GET", "/tasks/" .. ((counter % ids) + 1), headers)
end
