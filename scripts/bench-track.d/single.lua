-- One tracking request per call. Visitors as on a real site: each makes
-- 5 page views in a row and leaves; with RETURNING=1 in the environment,
-- every request comes from the 50,000 visitors the pre-filled day holds
-- (each hit then moves that visitor's earlier visits of the day into a
-- live part: the worst case).
local counter = 0
local returning = os.getenv("RETURNING") == "1"
function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end
function request()
  counter = counter + 1
  local n
  if returning then
    n = (counter * 7919 + seed) % 50000
  else
    n = 100000000 + seed * 1000000 + math.floor(counter / 5)
  end
  local path = string.format(
    "/matomo.php?idsite=1&rec=1&send_image=0&_id=%016x&url=https%%3A%%2F%%2Fx.org%%2Fp%%2F%d&action_name=Page%%20%d",
    n, (counter + seed) % 500, counter % 300)
  return wrk.format("GET", path)
end
