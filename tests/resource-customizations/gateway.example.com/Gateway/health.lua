-- Healthy when every listener is Programmed; a listener whose Programmed condition is False
-- makes the Gateway Degraded. Other condition types are skipped.
local hs = { status = "Progressing", message = "Waiting for the controller to report listeners" }
if obj.status == nil or obj.status.listeners == nil or #obj.status.listeners == 0 then
  return hs
end
local programmed = 0
for _, listener in ipairs(obj.status.listeners) do
  for _, condition in ipairs(listener.conditions or {}) do
    if condition.type ~= "Programmed" then
      goto continue
    end
    if condition.status == "False" then
      return {
        status = "Degraded",
        message = "Listener " .. listener.name .. ": " .. (condition.message or condition.reason or "not programmed"),
      }
    end
    if condition.status == "True" then
      programmed = programmed + 1
    end
    ::continue::
  end
end
local total = #obj.status.listeners
local percent = programmed / total * 100
if programmed == total then
  return { status = "Healthy", message = "All " .. total .. " listeners programmed" }
end
hs.message = programmed .. " of " .. total .. " listeners programmed (" .. percent .. "%)"
return hs
