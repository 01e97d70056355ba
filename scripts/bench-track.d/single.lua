-- One tracking request per call: a visitor of a pool of 50,000 (the ones
-- the pre-filled day holds, so visits move from the sealed day into live
-- parts), one of 500 pages.
local counter = 0
function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end
function request()
  counter = counter + 1
  local n = (counter * 7919 + seed) % 50000
  local path = string.format(
    "/matomo.php?idsite=1&rec=1&send_image=0&_id=%016x&url=https%%3A%%2F%%2Fx.org%%2Fp%%2F%d&action_name=Page%%20%d",
    n, (counter + seed) % 500, counter % 300)
  return wrk.format("GET", path)
end
