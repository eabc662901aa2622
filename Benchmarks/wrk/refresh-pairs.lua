-- Refresh rotation over the sampled sessions of Benchmarks/scale-bench.sh: the token file's lines
-- are `<refresh token> <access token>`; each wrk thread owns the lines with index % threads == its
-- id, presents each session's current refresh token and keeps the rotated one. With many more
-- sessions than requests per run, most requests touch a row no other request of the run touched.
-- args: <token file> <threads> [<part> <parts>]: with parts, only the lines of share <part> (from 0)
-- of <parts> are used, so that each of several runs on the same data refreshes sessions of its own.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  queue = {}
  local threads = tonumber(args[2])
  local part, parts = tonumber(args[3] or "0"), tonumber(args[4] or "1")
  local index = 0
  for line in io.lines(args[1]) do
    if index % (threads * parts) == part * threads + id then table.insert(queue, line:match("^(%S+)")) end
    index = index + 1
  end
  head, tail = 1, #queue
end

function request()
  local token = queue[head]
  queue[head] = nil
  head = head + 1
  return wrk.format("POST", "/oauth/token", { ["Content-Type"] = "application/x-www-form-urlencoded" },
    "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local token = body:match('"refresh_token":"([^"]+)"')
  if status == 200 and token then
    tail = tail + 1
    queue[tail] = token
  end
end
