// Which cgroup a container lives in. Kept small: exec, pause and the verbs
// that may finalize a container load it.
import { type CgroupLayout, detectHostLayout } from '../cgroups/detect.js';
import { containerCgroup, type ContainerCgroup, recordedCgroup } from '../cgroups/lifecycle.js';
import type { ContainerRecord } from './model.js';

/**
 * The cgroup of a started container, as its start recorded it: the only
 * place that maps a record to its cgroup, so that every verb, from any
 * cgroup, acts on the directories the container runs in. A container never
 * started (or started by a skiff that did not record them) gets the
 * directories a start from this process's cgroup would make.
 */
export function cgroupOf(rec: ContainerRecord, layout: CgroupLayout = detectHostLayout()): ContainerCgroup {
  return cgroupAt(rec.Id, rec.Skiff.CgroupPaths ?? [], layout);
}

/** The cgroup of container ID in the RECORDED directories (none recorded: where this process would make it). */
export function cgroupAt(id: string, recorded: readonly string[], layout: CgroupLayout = detectHostLayout()): ContainerCgroup {
  return recorded.length ? recordedCgroup(layout, id, recorded) : containerCgroup(layout, id);
}
