-- Like a CronJob: Healthy once the last scheduled run succeeded, Progressing while a run is
-- active, Degraded when the last run did not succeed.
local function parse(text)
  if text == nil then
    return nil
  end
  local year, month, day, hour, min, sec = string.match(text, "(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)Z")
  if year == nil then
    return nil
  end
  return os.time({ year = tonumber(year), month = tonumber(month), day = tonumber(day),
                   hour = tonumber(hour), min = tonumber(min), sec = tonumber(sec) })
end

if obj.spec ~= nil and obj.spec.suspend == true then
  return { status = "Suspended", message = "Suspended" }
end
local status = obj.status or {}
local scheduled = parse(status.lastScheduleTime)
local succeeded = parse(status.lastSuccessfulTime)
if status.active ~= nil and #status.active > 0 then
  return { status = "Progressing", message = #status.active .. " run(s) active" }
end
if scheduled == nil then
  return { status = "Healthy", message = "Not scheduled yet" }
end
if succeeded == nil or succeeded < scheduled then
  return { status = "Degraded", message = "The run scheduled at " .. status.lastScheduleTime .. " did not succeed" }
end
return { status = "Healthy", message = "The last run succeeded " .. os.difftime(succeeded, scheduled) .. " s after its schedule" }
