-- Refresh rotation with DPoP: as refresh.lua, and every request carries the next unused proof of
-- the proof file (proofs for POST <issuer>/oauth/token by the key the sessions are bound to, each
-- with its own jti; a proof is good once). args: <token file> <threads> <proof file>; each thread
-- takes the proofs with index % threads == its id. With an empty proof list (the file ran out), a
-- request goes without one and is refused: the run then counts non-2xx answers.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  queue = {}
  proofs = {}
  local threads = tonumber(args[2])
  local index = 0
  for line in io.lines(args[1]) do
    if index % threads == id then table.insert(queue, line) end
    index = index + 1
  end
  index = 0
  for line in io.lines(args[3]) do
    if index % threads == id then table.insert(proofs, line) end
    index = index + 1
  end
  head, tail, next_proof = 1, #queue, 1
end

function request()
  local token = queue[head]
  queue[head] = nil
  head = head + 1
  local proof = proofs[next_proof] or ""
  next_proof = next_proof + 1
  return wrk.format("POST", "/oauth/token", { ["Content-Type"] = "application/x-www-form-urlencoded", ["DPoP"] = proof },
    "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local token = body:match('"refresh_token":"([^"]+)"')
  if status == 200 and token then
    tail = tail + 1
    queue[tail] = token
  end
end
