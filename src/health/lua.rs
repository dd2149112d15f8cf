//! Custom health checks run as Argo CD runs them (argo-cd `util/lua/lua.go`): the object is
//! the global `obj`, the script returns `{status = ..., message = ...}`.
//!
//! Argo CD's Lua is gopher-lua: Lua 5.1 with `goto` and labels, every number a float64. We run
//! Lua 5.2 (vendored through mlua), which is that language: `goto`, numbers all doubles
//! (`tostring(4 / 2)` is "2"), and the sandbox below shows a script exactly Lua 5.1's safe names
//! (`unpack`, `table.getn`, `table.maxn`, `math.mod`, `math.log10`, `string.gfind` come back as
//! shims; 5.2's `rawlen`, `table.pack`, `table.unpack` are hidden). A table's `__gc` is never
//! called (as in gopher-lua): a finalizer would run inside the collector, out of the time
//! limit's reach.
//!
//! Sandbox: the base library without `dofile`, `loadfile`, `load`, `loadstring`, `require`,
//! `module`, `getfenv`, `setfenv`, `collectgarbage`, `gcinfo`, `newproxy`, `print` and
//! `coroutine`; `string` (without `string.dump`), `table`, `math`; `os` with only `time`,
//! `date`, `clock` and `difftime` (Argo CD's "safe os"). No `io`, `package`, `debug`.
//! Only Lua source is loaded, never precompiled bytecode (Lua 5.2 does not verify it).
//! Limits per run: 1 s of time (an instruction-count hook checks the clock; `pcall` and
//! `xpcall` cannot swallow the timeout; the C pattern matcher, which no hook can stop, refuses
//! a call whose backtracking could outlast the limit, estimated by `pattern::match_cost`) and 32 MiB of memory per script state.
//!
//! Every check is a pure function of its object (and the clock): each run gets a fresh global
//! environment and its own read-only views of `string`, `table`, `math` and `os` (with a
//! per-run `math.random`), and the string metatable is hidden, so nothing a script stores
//! survives into the next run. One Lua state per script and thread, created on first use and
//! reused; after each run it is collected back to the script's own few KiB, a state holding
//! more than 1 MiB is dropped, and at most 64 stay cached per thread. A state that hit a limit
//! is thrown away.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlua::{Function, HookTriggers, Lua, LuaOptions, LuaSerdeExt, StdLib, Table, VmState};
use serde_json::Value;

use super::config::CustomHealthCheck;
use super::{Health, HealthError, HealthErrorKind, HealthStatus};

/// Wall-clock limit of one run (Argo CD: a 1 s context timeout).
pub(crate) const TIME_LIMIT: Duration = Duration::from_secs(1);
/// Memory limit of one script's Lua state.
pub(crate) const MEMORY_LIMIT: usize = 32 * 1024 * 1024;
/// How often (in VM instructions) the hook looks at the clock.
const HOOK_EVERY: u32 = 1000;
/// Cached script states per thread; the cache is emptied when it is full. With
/// [`MAX_CACHED_STATE`], at most 64 MiB stay cached per thread.
const MAX_CACHED: usize = 64;

/// Prepared once per state: globals the sandbox removes, `pcall`/`xpcall` wrappers that
/// re-raise a timeout instead of catching it, pattern functions that refuse a match too costly
/// to finish within the time limit (Lua's matcher is C code, which the instruction hook cannot
/// stop), and the function that builds each run's environment. Returns that function.
const PRELUDE: &str = r#"
local raw_pcall, raw_xpcall, select, unpack, error = pcall, xpcall, select, table.unpack, error
local type, tostring, setmetatable, floor = type, tostring, setmetatable, math.floor
local rawget, rawset, rawlen, pairs, log, fmod = rawget, rawset, rawlen, pairs, math.log, math.fmod
local timed_out = __waves_timed_out
__waves_timed_out = nil
local function pack(...) return select('#', ...), { ... } end
pcall = function(...)
  local n, r = pack(raw_pcall(...))
  if not r[1] and timed_out() then error(r[2], 0) end
  return unpack(r, 1, n)
end
xpcall = function(...)
  local n, r = pack(raw_xpcall(...))
  if not r[1] and timed_out() then error("timeout", 0) end
  return unpack(r, 1, n)
end
-- Lua 5.2 runs a table's __gc finalizer inside the collector, where no hook (and so no time
-- limit) reaches. gopher-lua, Argo CD's Lua, never calls __gc: a metatable keeps its __gc
-- field, but the table is set without it, so Lua never marks the table for finalization
-- (adding __gc to the metatable later does not mark it either).
_G.setmetatable = function(t, mt)
  if type(mt) ~= "table" or rawget(mt, "__gc") == nil then return (setmetatable(t, mt)) end
  local gc = rawget(mt, "__gc")
  rawset(mt, "__gc", nil)
  local ok, r = raw_pcall(setmetatable, t, mt)
  rawset(mt, "__gc", gc)
  if not ok then error(r, 2) end
  return r
end
-- Lua 5.1 names that Lua 5.2 dropped or renamed (gopher-lua has them all).
local function check_table(t, name)
  if type(t) ~= "table" then
    error("bad argument #1 to '" .. name .. "' (table expected, got " .. type(t) .. ")", 3)
  end
end
_G.unpack = unpack
table.getn = function(t) check_table(t, "getn") return rawlen(t) end
table.setn = function() error("'setn' is obsolete", 2) end
table.maxn = function(t)
  check_table(t, "maxn")
  local max = 0
  for k in pairs(t) do
    if type(k) == "number" and k > max then max = k end
  end
  return max
end
table.foreach = function(t, f)
  check_table(t, "foreach")
  for k, v in pairs(t) do
    local r = f(k, v)
    if r ~= nil then return r end
  end
end
table.foreachi = function(t, f)
  check_table(t, "foreachi")
  for i = 1, rawlen(t) do
    local r = f(i, t[i])
    if r ~= nil then return r end
  end
end
math.log10 = function(x) return log(x, 10) end
math.mod = fmod
-- ... and the names Lua 5.2 added, which Argo CD's Lua does not have.
table.pack, table.unpack = nil, nil
for _, name in ipairs({ "dofile", "loadfile", "load", "loadstring", "require", "module",
    "getfenv", "setfenv", "collectgarbage", "gcinfo", "newproxy", "print", "coroutine",
    "package", "io", "debug", "rawlen", "bit32" }) do
  _G[name] = nil
end
string.dump = nil
os = { time = os.time, date = os.date, clock = os.clock, difftime = os.difftime }

-- Lua's pattern matcher is C code, which the instruction hook cannot stop: each call's worst
-- case is estimated first (src/health/pattern.rs) and refused beyond MATCH_BUDGET steps.
local MATCH_BUDGET = __waves_match_budget
local match_cost = __waves_match_cost
__waves_match_budget, __waves_match_cost = nil, nil
local function guard(name, raw, anchors, plain_arg)
  string[name] = function(s, p, ...)
    local ts, tp = type(s), type(p)
    if (ts == "string" or ts == "number") and (tp == "string" or tp == "number")
        and not (plain_arg and select(2, ...)) then
      s, p = tostring(s), tostring(p)
      if match_cost(p, #s, anchors) > MATCH_BUDGET then
        error("string." .. name .. ": the pattern " .. string.format("%q", p) .. " could backtrack over the " .. #s ..
          "-character string for longer than the time limit; use a pattern whose repeated items cannot match the same characters, or string.find(s, p, 1, true)", 2)
      end
    end
    return raw(s, p, ...)
  end
end
guard("find", string.find, true, true)
guard("match", string.match, true, false)
guard("gmatch", string.gmatch, false, false)
string.gfind = string.gmatch
guard("gsub", string.gsub, true, false)
-- A script reaches the string library through every string value's metatable: hide it.
getmetatable("").__metatable = false

-- Each run sees its own read-only views of the libraries, so nothing a script does survives
-- into the next run: the verdict is a function of the object alone.
local sandbox = _G
local env_meta = { __index = sandbox, __metatable = false }
local function view(name, lib, own)
  return setmetatable(own, {
    __index = lib,
    __newindex = function() error("the " .. name .. " library is read-only in a health check", 2) end,
    __metatable = false,
  })
end
local libs = { string = string, table = table, os = os }
local real_math = math
return function(obj)
  local env = { obj = obj }
  env._G = env
  for name, lib in pairs(libs) do env[name] = view(name, lib, {}) end
  -- math.random from a per-run seed (the C one is shared by every run and thread).
  local seed = 1
  local function random(m, n)
    seed = (seed * 16807) % 2147483647
    local r = (seed - 1) / 2147483646
    if m == nil then return r end
    if n == nil then m, n = 1, m end
    if m > n then error("bad argument to 'random' (interval is empty)", 2) end
    return m + floor(r * (n - m + 1))
  end
  local function randomseed(x)
    seed = floor(tonumber(x) or 0) % 2147483646 + 1
  end
  env.math = view("math", real_math, { random = random, randomseed = randomseed })
  return setmetatable(env, env_meta)
end
"#;

/// The most backtracking steps one pattern call may take (see `PRELUDE` and
/// `pattern::match_cost`). Measured with Lua 5.2 at -O0 (the dev profile) on the 2-core CI
/// machine: 20 ns a step idle, up to 70 ns under load, so 0.1 to 0.35 s.
const MATCH_BUDGET: f64 = 5e6;

/// A state that holds more than this after a run and a full collection is not kept.
const MAX_CACHED_STATE: usize = 1024 * 1024;

struct Vm {
    script: Arc<str>,
    lua: Lua,
    func: Function,
    make_env: Function,
    deadline: Rc<Cell<Instant>>,
    timed_out: Rc<Cell<bool>>,
}

thread_local! {
    static VMS: RefCell<HashMap<String, Vm>> = RefCell::new(HashMap::new());
}

fn error(
    check: &CustomHealthCheck,
    kind: HealthErrorKind,
    message: impl Into<String>,
) -> HealthError {
    HealthError {
        key: check.key.clone(),
        kind,
        message: message.into(),
    }
}

/// The chunk name scripts are loaded under. Short on purpose: Lua cuts chunk names to 60
/// bytes in its messages, which left a key such as
/// `resource.customizations.health.databases.example.com_MyData:10:`; the error names the
/// key anyway.
const CHUNK: &str = "script";

/// Strips mlua's stack traceback from an error text, and the chunk name in front of the line
/// number: `script:3: boom` → `line 3: boom` (the line in the user's script).
fn clean(_check: &CustomHealthCheck, message: &str) -> String {
    let message = message
        .split("\nstack traceback:")
        .next()
        .unwrap_or(message)
        .trim();
    match message
        .strip_prefix(CHUNK)
        .and_then(|rest| rest.strip_prefix(':'))
    {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => format!("line {rest}"),
        _ => message.to_string(),
    }
}

fn classify(check: &CustomHealthCheck, e: &mlua::Error, timed_out: bool) -> HealthError {
    if timed_out {
        return error(
            check,
            HealthErrorKind::Timeout,
            format!(
                "the script ran longer than {} s and was stopped",
                TIME_LIMIT.as_secs()
            ),
        );
    }
    match e {
        mlua::Error::MemoryError(_) => memory_error(check),
        mlua::Error::SyntaxError { message, .. } => {
            error(check, HealthErrorKind::Syntax, clean(check, message))
        }
        mlua::Error::CallbackError { cause, .. } => classify(check, cause, false),
        mlua::Error::WithContext { cause, .. } => classify(check, cause, false),
        mlua::Error::RuntimeError(m) if m.contains("not enough memory") => memory_error(check),
        mlua::Error::RuntimeError(m) => error(check, HealthErrorKind::Runtime, clean(check, m)),
        other => error(
            check,
            HealthErrorKind::Runtime,
            clean(check, &other.to_string()),
        ),
    }
}

fn memory_error(check: &CustomHealthCheck) -> HealthError {
    error(
        check,
        HealthErrorKind::Memory,
        format!(
            "the script used more than {} MiB of memory and was stopped",
            MEMORY_LIMIT / (1024 * 1024)
        ),
    )
}

impl Vm {
    fn new(check: &CustomHealthCheck) -> Result<Vm, HealthError> {
        let setup = |e: mlua::Error| {
            error(
                check,
                HealthErrorKind::Runtime,
                format!("cannot set up the Lua sandbox: {e}"),
            )
        };
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::OS,
            LuaOptions::default(),
        )
        .map_err(setup)?;

        let timed_out = Rc::new(Cell::new(false));
        let flag = timed_out.clone();
        let probe = lua
            .create_function(move |_, ()| Ok(flag.get()))
            .map_err(setup)?;
        lua.globals()
            .raw_set("__waves_timed_out", probe)
            .map_err(setup)?;
        lua.globals()
            .raw_set("__waves_match_budget", MATCH_BUDGET)
            .map_err(setup)?;
        let cost = lua
            .create_function(
                |_, (pattern, len, anchors): (mlua::LuaString, usize, bool)| {
                    Ok(super::pattern::match_cost(
                        &pattern.as_bytes(),
                        len,
                        anchors,
                    ))
                },
            )
            .map_err(setup)?;
        lua.globals()
            .raw_set("__waves_match_cost", cost)
            .map_err(setup)?;
        let make_env: Function = lua
            .load(PRELUDE)
            .set_name("=kubectl-waves sandbox")
            .eval()
            .map_err(setup)?;

        // Text only: Lua 5.2 runs precompiled bytecode unverified (it has no verifier at all).
        if check.script.as_bytes().starts_with(b"\x1bLua") {
            return Err(error(
                check,
                HealthErrorKind::Syntax,
                "the script is precompiled Lua bytecode; only Lua source is accepted",
            ));
        }
        let func = lua
            .load(&*check.script)
            .set_name(format!("={CHUNK}"))
            .set_mode(mlua::chunk::ChunkMode::Text)
            .into_function()
            .map_err(|e| classify(check, &e, false))?;

        let deadline = Rc::new(Cell::new(Instant::now() + TIME_LIMIT));
        let hook_deadline = deadline.clone();
        let hook_flag = timed_out.clone();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                if hook_flag.get() || Instant::now() > hook_deadline.get() {
                    hook_flag.set(true);
                    return Err(mlua::Error::RuntimeError("timeout".into()));
                }
                Ok(VmState::Continue)
            },
        )
        .map_err(setup)?;
        lua.set_memory_limit(MEMORY_LIMIT).map_err(setup)?;

        Ok(Vm {
            script: check.script.clone(),
            lua,
            func,
            make_env,
            deadline,
            timed_out,
        })
    }

    fn run(&self, check: &CustomHealthCheck, obj: &Value) -> Result<Health, HealthError> {
        self.timed_out.set(false);
        self.deadline.set(Instant::now() + TIME_LIMIT);
        let result = self.call(obj);
        let timed_out = self.timed_out.get();
        match result {
            Ok(value) => to_health(check, value),
            Err(e) => Err(classify(check, &e, timed_out)),
        }
    }

    fn call(&self, obj: &Value) -> mlua::Result<mlua::Value> {
        let options = mlua::serde::SerializeOptions::new()
            .serialize_none_to_null(false)
            .serialize_unit_to_null(false)
            .set_array_metatable(false);
        let lua_obj = self.lua.to_value_with(obj, options)?;
        let env: Table = self.make_env.call(lua_obj)?;
        self.func.set_environment(env)?;
        self.func.call::<mlua::Value>(())
    }
}

/// Turns what the script returned into a health, as Argo CD's `ExecuteHealthLua`.
fn to_health(check: &CustomHealthCheck, value: mlua::Value) -> Result<Health, HealthError> {
    let table = match value {
        mlua::Value::Table(t) => t,
        mlua::Value::Nil => return Ok(no_status(check)),
        other => {
            return Err(error(
                check,
                HealthErrorKind::BadReturn,
                format!(
                    "expect table output from Lua script, not {}",
                    other.type_name()
                ),
            ));
        }
    };
    let status: mlua::Value = table.raw_get("status").unwrap_or(mlua::Value::Nil);
    let message: mlua::Value = table.raw_get("message").unwrap_or(mlua::Value::Nil);
    let empty = table
        .clone()
        .pairs::<mlua::Value, mlua::Value>()
        .next()
        .is_none();
    if empty {
        return Ok(no_status(check));
    }
    let message = match message {
        mlua::Value::String(s) => s.to_string_lossy(),
        mlua::Value::Integer(i) => i.to_string(),
        mlua::Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let invalid = |what: String| {
        Health::new(
            HealthStatus::Unknown,
            format!(
                "Lua returned an invalid health status {what} ({}); expected one of Healthy, \
                 Progressing, Degraded, Suspended, Missing, Unknown",
                check.key
            ),
        )
    };
    match status {
        mlua::Value::String(s) => {
            let s = s.to_string_lossy();
            match HealthStatus::from_argocd(&s) {
                Some(status) => Ok(Health::new(status, message)),
                None => Ok(invalid(format!("{s:?}"))),
            }
        }
        mlua::Value::Nil => Ok(invalid("(no status field)".to_string())),
        other => Ok(invalid(format!(
            "(status is of type {})",
            other.type_name()
        ))),
    }
}

/// A script that returned nil or an empty table. Argo CD records an empty status (a hook
/// then succeeds at once and another object waits forever without a word); we say Unknown.
fn no_status(check: &CustomHealthCheck) -> Health {
    Health::unknown(format!(
        "the health script {} returned no status (nil or an empty table)",
        check.key
    ))
}

/// Runs `check` on `obj`.
pub(crate) fn run(check: &CustomHealthCheck, obj: &Value) -> Result<Health, HealthError> {
    VMS.with(|cell| {
        let Ok(mut vms) = cell.try_borrow_mut() else {
            // Only reachable if a script could call back into assess; it cannot.
            return Vm::new(check)?.run(check, obj);
        };
        let reuse = vms
            .get(&check.key)
            .is_some_and(|vm| Arc::ptr_eq(&vm.script, &check.script) || vm.script == check.script);
        if !reuse {
            vms.remove(&check.key);
            if vms.len() >= MAX_CACHED {
                vms.clear();
            }
            let vm = Vm::new(check)?;
            vms.insert(check.key.clone(), vm);
        }
        let Some(vm) = vms.get(&check.key) else {
            return Vm::new(check)?.run(check, obj);
        };
        let result = vm.run(check, obj);
        if matches!(
            &result,
            Err(HealthError {
                kind: HealthErrorKind::Timeout | HealthErrorKind::Memory,
                ..
            })
        ) {
            vms.remove(&check.key);
        } else {
            // What the run allocated is garbage now (its environment is dropped): collect it,
            // so the next run starts from the script's own few KiB and the cache stays small.
            // A state that still holds much (a huge script) is not kept.
            if vm.lua.gc_collect().is_err() || vm.lua.used_memory() > MAX_CACHED_STATE {
                vms.remove(&check.key);
            }
        }
        result
    })
}

/// Memory held by this thread's cached script states.
#[cfg(test)]
pub(crate) fn cached_bytes() -> usize {
    VMS.with(|cell| cell.borrow().values().map(|vm| vm.lua.used_memory()).sum())
}

/// The compile error of a script, if any.
pub(crate) fn compile_error(check: &CustomHealthCheck) -> Option<HealthError> {
    Vm::new(check).err()
}
