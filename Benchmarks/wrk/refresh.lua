-- Refresh rotation: every request presents a session's *current* refresh token and keeps the
-- rotated one for that session's next request. Each wrk thread owns its own sessions (lines of the
-- token file with index % threads == its id), more of them than it has connections.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  queue = {}
  local threads = tonumber(args[2])
  local index = 0
  for line in io.lines(args[1]) do
    if index % threads == id then table.insert(queue, line) end
    index = index + 1
  end
  lost = 0
end

function request()
  local token = table.remove(queue, 1)
  return wrk.format("POST", "/oauth/token", { ["Content-Type"] = "application/x-www-form-urlencoded" },
    "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local token = body:match('"refresh_token":"([^"]+)"')
  if status == 200 and token then
    table.insert(queue, token)
  else
    lost = lost + 1
  end
end
