-- wrk load on `flashsale serve`: POST /v1/orders with a fresh request id per order (each wrk thread
-- its own id range), a random organisation, one offer.
--
--   flashsale serve LoadProfiles/kaigong-opening.yaml --opens-in 0s &
--   wrk -t2 -c64 -d10s -s examples/wrk-orders.lua http://127.0.0.1:8080 -- kickoff-bundle 200000 1
--
-- Arguments after `--`: offer id (default kickoff-bundle), organisations in the campaign (default
-- 200000), pipeline depth (default 1: keep-alive, one request at a time; 16 sends 16 at once).
-- The server's clock must be wall time (serve's default): bodies carry no campaign time.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_number", #threads)
end

function init(args)
   offer = args[1] or "kickoff-bundle"
   organisations = tonumber(args[2] or "200000")
   depth = tonumber(args[3] or "1")
   next_id = thread_number * 1000000000000
   math.randomseed(thread_number * 7919)
end

local function order()
   next_id = next_id + 1
   local body = string.format('{"request_id":%d,"organisation":%d,"offer":"%s"}',
                              next_id, math.random(0, organisations - 1), offer)
   return wrk.format("POST", "/v1/orders", { ["Content-Type"] = "application/json" }, body)
end

function request()
   if depth <= 1 then return order() end
   local batch = {}
   for i = 1, depth do batch[i] = order() end
   return table.concat(batch)
end
