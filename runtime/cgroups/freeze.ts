import { join } from 'node:path';
import { parseKeyed, readText, sleepSync, writeValue } from './io.js';
import type { ContainerCgroup } from './lifecycle.js';

export type FreezerState = 'frozen' | 'freezing' | 'thawed';

function freezerDir(cg: ContainerCgroup): { version: 1 | 2; dir: string } {
  const dir = cg.dirs.freezer;
  const h = cg.layout.controllers.freezer;
  if (!dir || !h) throw new Error('cgroup: the freezer is not available on this host');
  return { version: h.version, dir };
}

/** Current freezer state, or undefined if the cgroup does not exist. */
export function freezerState(cg: ContainerCgroup): FreezerState | undefined {
  const { version, dir } = freezerDir(cg);
  if (version === 2) return v2State(dir);
  const text = readText(join(dir, 'freezer.state'));
  return text === undefined ? undefined : v1State(text);
}

/**
 * The freezer state of a container from the directories it was given (one
 * per hierarchy, as recorded at start), without detecting the host's layout
 * (~0.5 ms, which `ps` would pay for every running container). The layout
 * picks the v1 freezer where one is mounted, else cgroup2's cgroup.freeze:
 * the one directory holding freezer.state is that v1 freezer.
 */
export function freezerStateIn(dirs: readonly string[]): FreezerState | undefined {
  for (const d of dirs) {
    const v1 = readText(join(d, 'freezer.state'));
    if (v1 !== undefined) return v1State(v1);
  }
  for (const d of dirs) {
    const s = v2State(d);
    if (s) return s;
  }
  return undefined;
}

function v2State(dir: string): FreezerState | undefined {
  const requested = readText(join(dir, 'cgroup.freeze'));
  const events = readText(join(dir, 'cgroup.events'));
  if (requested === undefined || events === undefined) return undefined;
  if (parseKeyed(events).get('frozen') === 1) return 'frozen';
  return requested.trim() === '1' ? 'freezing' : 'thawed';
}

function v1State(text: string): FreezerState {
  const state = text.trim();
  return state === 'FROZEN' ? 'frozen' : state === 'FREEZING' ? 'freezing' : 'thawed';
}

/** Freezes every process in the container; waits until the kernel reports it frozen. */
export function freezeCgroup(cg: ContainerCgroup, timeoutMs = 2000): void {
  const { version, dir } = freezerDir(cg);
  const file = join(dir, version === 2 ? 'cgroup.freeze' : 'freezer.state');
  const value = version === 2 ? '1' : 'FROZEN';
  const deadline = Date.now() + timeoutMs;
  writeValue(file, value);
  for (;;) {
    if (freezerState(cg) === 'frozen') return;
    if (Date.now() > deadline) break;
    sleepSync(5);
    // v1 can stay in FREEZING when a task races with the freezer; writing FROZEN
    // again retries it (runc does the same).
    if (version === 1) writeValue(file, value);
  }
  thawCgroup(cg);
  throw new Error(`cgroup: container ${cg.id} did not freeze within ${timeoutMs} ms`);
}

/** Thaws the container's processes. */
export function thawCgroup(cg: ContainerCgroup): void {
  const { version, dir } = freezerDir(cg);
  if (version === 2) writeValue(join(dir, 'cgroup.freeze'), '0');
  else writeValue(join(dir, 'freezer.state'), 'THAWED');
}
