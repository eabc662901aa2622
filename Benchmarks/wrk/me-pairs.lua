-- GET /v1/me round-robin over the access tokens of Benchmarks/scale-bench.sh's token file
-- (`<refresh token> <access token>` per line): each request loads its user from the database.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  tokens = {}
  for line in io.lines(args[1]) do table.insert(tokens, line:match("%S+%s+(%S+)")) end
  next_token = id + 1
end

function request()
  local token = tokens[next_token]
  next_token = next_token % #tokens + 1
  return wrk.format("GET", "/v1/me", { ["Authorization"] = "Bearer " .. token })
end
