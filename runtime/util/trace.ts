// SKIFF_TRACE=1 prints where the time goes, one line per phase on stderr,
// in milliseconds since this process started (bench/start.sh reads these).
//
// The same marks are the fault-injection points (test/integration/faults):
// SKIFF_FAULT=PHASE[:SIGNAL][@ROLE] makes this process send itself SIGNAL
// (default SIGKILL) when it reaches PHASE, so a test can kill a command at an
// exact phase boundary, for real. ROLE (cli or monitor) limits it to the
// command itself or to a detached container monitor, which inherits the
// environment. It only ever affects the processes it is set for.
const enabled = !!process.env.SKIFF_TRACE;
const [faultSpec, faultRole] = (process.env.SKIFF_FAULT ?? '').split('@');
const [faultPhase, faultSignal = 'SIGKILL'] = faultSpec.split(':');
const role = /monitor(\.body)?\.[cm]?js$/.test(process.argv[1] ?? '') ? 'monitor' : 'cli';

export function mark(phase: string): void {
  // globalThis.performance: loaded on first use, so an untraced command does not pay for perf_hooks.
  if (enabled) process.stderr.write(`skiff-trace ${phase} ${globalThis.performance.now().toFixed(1)}\n`);
  if (faultPhase && phase === faultPhase && (!faultRole || faultRole === role)) process.kill(process.pid, faultSignal as NodeJS.Signals);
}
