//! Custom health checks in Lua 5.1, run as Argo CD runs them (argo-cd `util/lua/lua.go`):
//! the object is the global `obj`, the script returns `{status = ..., message = ...}`.
//!
//! Sandbox: the base library without `dofile`, `loadfile`, `load`, `loadstring`, `require`,
//! `module`, `getfenv`, `setfenv`, `collectgarbage`, `gcinfo`, `newproxy`, `print` and
//! `coroutine`; `string` (without `string.dump`), `table`, `math`; `os` with only `time`,
//! `date`, `clock` and `difftime` (Argo CD's "safe os"). No `io`, `package`, `debug`.
//! Limits per run: 1 s of time (an instruction-count hook checks the clock; `pcall` and
//! `xpcall` cannot swallow the timeout) and 32 MiB of memory per script state.
//!
//! One Lua state per script and thread, created on first use and reused; each run gets a
//! fresh global environment, so what a script leaves in globals does not leak into the next
//! run. A state that hit a limit is thrown away.

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
/// Cached script states per thread; the cache is emptied when it is full.
const MAX_CACHED: usize = 128;

/// Prepared once per state: globals the sandbox removes, and `pcall`/`xpcall` wrappers that
/// re-raise a timeout instead of catching it.
const PRELUDE: &str = r#"
local raw_pcall, raw_xpcall, select, unpack, error = pcall, xpcall, select, unpack, error
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
for _, name in ipairs({ "dofile", "loadfile", "load", "loadstring", "require", "module",
    "getfenv", "setfenv", "collectgarbage", "gcinfo", "newproxy", "print", "coroutine",
    "package", "io", "debug" }) do
  _G[name] = nil
end
string.dump = nil
local safe_os = { time = os.time, date = os.date, clock = os.clock, difftime = os.difftime }
os = safe_os
"#;

struct Vm {
    script: Arc<str>,
    lua: Lua,
    func: Function,
    env_meta: Table,
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
        lua.load(PRELUDE)
            .set_name("=kubectl-waves sandbox")
            .exec()
            .map_err(setup)?;
        let sandbox = lua.globals();

        let func = lua
            .load(&*check.script)
            .set_name(format!("={CHUNK}"))
            .into_function()
            .map_err(|e| classify(check, &e, false))?;

        let env_meta = lua.create_table().map_err(setup)?;
        env_meta
            .raw_set("__index", sandbox.clone())
            .map_err(setup)?;
        // getmetatable(_G) answers false: a script cannot rewire the environment of later runs.
        env_meta.raw_set("__metatable", false).map_err(setup)?;

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
            env_meta,
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
        let env = self.lua.create_table()?;
        env.raw_set("obj", lua_obj)?;
        env.raw_set("_G", env.clone())?;
        env.set_metatable(Some(self.env_meta.clone()))?;
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
        } else if vm.lua.used_memory() > MEMORY_LIMIT / 2 {
            // Let the garbage collector start from a clean state next time.
            vms.remove(&check.key);
        }
        result
    })
}

/// The compile error of a script, if any.
pub(crate) fn compile_error(check: &CustomHealthCheck) -> Option<HealthError> {
    Vm::new(check).err()
}
