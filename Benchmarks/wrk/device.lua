-- Device sign-in of already registered devices, round-robin over the device ids in the file.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  devices = {}
  for line in io.lines(args[1]) do table.insert(devices, line) end
  next_device = id + 1
  secret = args[2]
end

function request()
  local device = devices[next_device]
  next_device = next_device % #devices + 1
  return wrk.format("POST", "/v1/auth/device", { ["Content-Type"] = "application/json" },
    '{"device_id":"' .. device .. '","device_secret":"' .. secret .. '","platform":"ios"}')
end
