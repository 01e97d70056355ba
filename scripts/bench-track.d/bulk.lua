-- Bulk requests of 100 tracking requests each; visitors as in single.lua.
local counter = 0
local returning = os.getenv("RETURNING") == "1"
function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end
function request()
  local parts = {}
  for i = 1, 100 do
    counter = counter + 1
    local n
    if returning then
      n = (counter * 7919 + seed) % 50000
    else
      n = 100000000 + seed * 1000000 + math.floor(counter / 5)
    end
    parts[i] = string.format(
      "\"?idsite=1&rec=1&_id=%016x&url=https%%3A%%2F%%2Fx.org%%2Fp%%2F%d&action_name=Page%%20%d\"",
      n, (counter + seed) % 500, counter % 300)
  end
  local body = "{\"requests\":[" .. table.concat(parts, ",") .. "]}"
  return wrk.format("POST", "/matomo.php", {["Content-Type"] = "application/json"}, body)
end
