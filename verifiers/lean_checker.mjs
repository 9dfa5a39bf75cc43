// The persistent Lean checker: one Node process that loads Lean (WebAssembly) and its core
// library once, then elaborates one Lean file per request against that loaded environment.
//
// Usage: node lean_checker.mjs <lean.reason.js> <lean home> <request dir>
//
// Start-up: Lean's C `main` checks a warm-up file (this initialises Lean and its search path),
// then `Lean.Elab.runFrontend` on an empty file yields the environment with Init imported; it is
// marked persistent and kept. Each request is then parsed and elaborated by calling Lean's own
// compiled functions (`Parser.mkInputContext`, `Parser.parseHeader`, `Elab.Command.mkState`,
// `Elab.IO.processCommands`, `MessageLog.toList`, `Message.toString`) on a fresh command state
// over the kept environment, so no request sees another's declarations and nothing is imported
// again. A request's own `import` lines are parsed but not acted on: only Init is available.
// The Lean library is <lean home>/lib (LEAN_PATH); the lean home is mounted at its own path in
// Lean's file system, which otherwise shows only /tmp and /home.
//
// Requests are files `req-<id>.lean` in the request dir (under /tmp or /home); each gets
// `req-<id>.lean.json` = {"exit": 0 or 1 (1: an error message), "output": the messages as Lean
// prints them, "ms": time, "memory_mb": the WebAssembly memory in use, "axioms" and
// "declared_here": below}.
//
// Axioms. This build imports Init as a `module`, and Lean refuses `#print axioms` in a module, so
// the kept environment's header is marked a plain file once it is loaded (its `isModule` flag).
// The imports stay as a module sees them: an imported theorem's proof is hidden, so `#print axioms`
// lists the imported theorems a proof uses beside the true axioms. "axioms" maps each constant a
// `#print axioms` in the request was run on to what Lean listed; every listed name that the kept
// environment (Init alone) does not contain is reported in "declared_here": an axiom the request
// itself declared. `ready` is written once
// the environment is loaded. The checker exits when `stop` appears, when the request dir
// disappears, when its parent dies, or after a failure inside Lean (its state is then suspect).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const [glue, leanHome, requestDir] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const started = Date.now();
const parent = process.ppid;
const STRING_TAG = 249;
let printed = [];
let env = 0;
let leanOptions = 1; // the empty option set (a boxed unit)
let busy = false;

// -- Lean objects seen from JavaScript (wasm32: 8-byte header, 4-byte fields) ------------------
const view = () => new DataView(Module.memory().buffer);
const tagOf = (o) => view().getUint8(o + 7);
const fieldOf = (o, i) => view().getUint32(o + 8 + 4 * i, true);
const isScalar = (o) => (o & 1) === 1;
const boxNat = (n) => n * 2 + 1;

function incRef(o) {
  if (isScalar(o)) return;
  const rc = view().getInt32(o, true);
  if (rc > 0) view().setInt32(o, rc + 1, true);
  else if (rc < 0) Atomics.sub(new Int32Array(Module.memory().buffer), o >> 2, 1); // shared between threads
}

function decRef(o) {
  if (isScalar(o)) return;
  const rc = view().getInt32(o, true);
  if (rc > 1) view().setInt32(o, rc - 1, true);
  else if (rc !== 0) Module._lean_dec_ref_cold(o);
}

function leanString(text) {
  const utf8 = Module.stringToNewUTF8(text);
  const obj = Module._lean_mk_string(utf8);
  Module._free(utf8);
  return obj;
}

const readString = (o) => Module.UTF8ToString(o + 20); // after m_size, m_capacity, m_length

function ioValue(result, what) {
  if (tagOf(result) !== 0) throw new Error(`${what} failed inside Lean`);
  return fieldOf(result, 0);
}

// -- one check -------------------------------------------------------------------------------
function messagesOf(log) {
  incRef(log);
  let list = Module._l_Lean_MessageLog_toList(log);
  const head = list;
  const texts = [];
  while (!isScalar(list)) {
    const message = fieldOf(list, 0);
    incRef(message);
    const text = Module._l_Lean_Message_toString(message, 0);
    texts.push(readString(tagOf(text) === STRING_TAG ? text : ioValue(text, 'Message.toString')).trimEnd());
    list = fieldOf(list, 1);
  }
  decRef(head);
  return texts;
}

// Environment -> base (public, private views of the kernel environment) -> header, whose scalar
// fields are trustLevel (UInt32, 1024 as loadEnvironment asked) then isModule (Bool).
function markPlainFile(environment) {
  const base = fieldOf(environment, 0);
  for (const side of [0, 1]) {
    const kernel = fieldOf(base, side);
    const header = fieldOf(kernel, view().getUint8(kernel + 6) - 1);
    const scalars = header + 8 + 4 * view().getUint8(header + 6);
    if (view().getUint32(scalars, true) !== 1024) throw new Error('unexpected environment layout: no header found');
    view().setUint8(scalars + 4, 0);
  }
}

function nameOf(text) {
  let name = 1; // Name.anonymous, a boxed 0
  for (const part of text.split('.')) name = Module._lean_name_mk_string(name, leanString(part));
  return name;
}

function imported(text) { // does the kept environment (Init) hold a constant of this name?
  const name = nameOf(text);
  incRef(env);
  const found = Module._l_Lean_Environment_find_x3f(env, name, 0);
  const known = !isScalar(found);
  decRef(found);
  return known;
}

function printedAxioms(messages) { // what each `#print axioms` said: {constant: [axiom, ...]}
  const axioms = {};
  for (const text of messages) {
    const said = /^'(.+?)' (?:depends on axioms: \[([^\]]*)\]|does not depend on any axioms)/s.exec(text);
    if (said) axioms[said[1]] = (said[2] ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  }
  return axioms;
}

function declaredHere(axioms) {
  return [...new Set(Object.values(axioms).flat())].filter((name) => !imported(name));
}

function elaborate(source) {
  const input = leanString(source);
  const bytes = Buffer.byteLength(source);
  const context = Module._l_Lean_Parser_mkInputContext(input, leanString('<request>'), 0, boxNat(bytes), 1);
  Module._lean_runtime_mark_persistent(context); // used twice below; a few KB kept per check
  const header = Module._l_Lean_Parser_parseHeader(context);
  const rest = fieldOf(ioValue(header, 'parseHeader'), 1);
  const parserState = fieldOf(rest, 0);
  const headerMessages = fieldOf(rest, 1);
  incRef(parserState);
  incRef(headerMessages);
  decRef(header);
  const commandState = Module._l_Lean_Elab_Command_mkState(env, headerMessages, leanOptions);
  const result = Module._l_Lean_Elab_IO_processCommands(context, parserState, commandState);
  const messages = messagesOf(fieldOf(fieldOf(ioValue(result, 'processCommands'), 0), 1));
  decRef(result);
  return messages;
}

function check(file) {
  const t0 = Date.now();
  const source = fs.readFileSync(file, 'utf8').replace(/\r\n?/g, '\n');
  const messages = elaborate(source);
  const exit = messages.some((m) => /^<request>:\d+:\d+: error/.test(m)) ? 1 : 0;
  const axioms = printedAxioms(messages);
  return { exit, output: messages.join('\n'), axioms, declared_here: declaredHere(axioms), ms: Date.now() - t0, memory_mb: Math.round(Module.memory().buffer.byteLength / 2 ** 20) };
}

// -- start-up and the request loop ------------------------------------------------------------
function guarded(call) {
  const stack = Module.stackSave(); // an exit or trap unwinds through wasm frames without restoring it
  try {
    return call();
  } catch (e) {
    if (e?.name === 'ExitStatus') return e.status;
    throw e;
  } finally {
    Module.stackRestore(stack);
  }
}

function loadEnvironment() {
  const warmup = path.join(requestDir, 'warmup.lean');
  fs.writeFileSync(warmup, 'theorem reason_warmup : 1 + 1 = 2 := by decide\n');
  const warmupExit = guarded(() => Module.callMain([warmup]));
  const shellOptions = Module._lean_shell_options_mk(1);
  Module._lean_runtime_mark_persistent(shellOptions);
  leanOptions = fieldOf(shellOptions, 0);
  const noArray = fieldOf(shellOptions, 1); // an empty array
  const name = Module._lean_name_mk_string(1, leanString('ReasonCheck'));
  const result = guarded(() => Module._l_Lean_Elab_runFrontend(
    leanString(''), leanOptions, leanString(path.join(requestDir, 'base.lean')), name, 1024, 1, 1, 0, noArray, noArray, 0, 1));
  const option = ioValue(result, 'runFrontend');
  if (isScalar(option)) throw new Error('Lean could not import Init');
  env = fieldOf(option, 0);
  Module._lean_runtime_mark_persistent(env);
  markPlainFile(env);
  return warmupExit;
}

function answer(file) {
  let reply;
  let failed = false;
  try {
    reply = guarded(() => check(file));
  } catch (e) {
    reply = { exit: -1, output: `checker: Lean failed: ${e?.message ?? e}`, ms: 0 };
    failed = true;
  }
  fs.writeFileSync(file + '.json.part', JSON.stringify(reply));
  fs.renameSync(file + '.json.part', file + '.json');
  fs.rmSync(file, { force: true });
  if (failed) process.exit(3);
}

function poll() {
  if (busy) return;
  if (process.ppid !== parent || !fs.existsSync(requestDir) || fs.existsSync(path.join(requestDir, 'stop'))) {
    process.exit(0);
  }
  busy = true;
  try {
    for (const name of fs.readdirSync(requestDir).filter((n) => n.startsWith('req-') && n.endsWith('.lean')).sort()) {
      answer(path.join(requestDir, name));
    }
  } finally {
    busy = false;
  }
}

function ready() {
  const loaded = Date.now();
  const warmupExit = loadEnvironment();
  const probe = path.join(requestDir, 'probe.lean');
  fs.writeFileSync(probe, 'theorem reason_probe (a b : Nat) : a + b = b + a := by omega\n');
  const first = guarded(() => check(probe));
  fs.writeFileSync(path.join(requestDir, 'ready.part'), JSON.stringify({
    load_ms: loaded - started, environment_ms: Date.now() - loaded - first.ms, warmup_exit: warmupExit,
    probe_ms: first.ms, probe_exit: first.exit, probe_output: first.output,
  }));
  fs.renameSync(path.join(requestDir, 'ready.part'), path.join(requestDir, 'ready'));
  printed = [];
  fs.watch(requestDir, poll); // wake on a new request at once, without busy polling
  setInterval(poll, 500); // parent, stop file, and any missed event
}

const Module = {
  noInitialRun: true,
  noExitRuntime: true,
  print: (line) => printed.length < 2000 && printed.push(line),
  printErr: (line) => printed.length < 2000 && printed.push(line),
  preRun: [() => {
    if (!/^\/(home|tmp)(\/|$)/.test(leanHome)) {
      Module.FS.mkdirTree(leanHome);
      Module.FS.mount(Module.NODEFS, { root: leanHome }, leanHome);
    }
  }],
  onRuntimeInitialized: () => setTimeout(() => {
    try {
      ready();
    } catch (e) {
      fs.writeSync(2, `checker: start-up failed: ${e?.stack ?? e}\n${printed.filter((l) => !l.startsWith('[DEBUG')).join('\n')}\n`);
      process.exit(2);
    }
  }, 0),
};
globalThis.__reasonLeanModule = Module;
require(glue);
