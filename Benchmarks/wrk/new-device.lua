-- Device sign-in of devices never seen: every request a new device id (so each registers a device
-- and creates its user, as an app's first start does). args[1]: a prefix unique to the run.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  prefix = args[1] .. "-" .. id .. "-"
  n = 0
end

function request()
  n = n + 1
  return wrk.format("POST", "/v1/auth/device", { ["Content-Type"] = "application/json" },
    '{"device_id":"' .. prefix .. n .. '","device_secret":"benchmark-device-secret-0123456789abcdef","platform":"ios"}')
end
