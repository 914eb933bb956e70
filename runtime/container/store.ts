// Container records on disk. Every read-modify-write goes through a per-
// container flock and an atomic rename, so concurrent skiff commands never
// see or write half a state file.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import dockerNames from 'docker-names';
import { join } from 'node:path';
import { diskFailure, SkiffError } from '../util/errors.js';
import { readJson, writeJsonAtomic } from '../util/json.js';
import { withLock } from '../util/lock.js';
import { paths } from '../util/paths.js';
import { randomHex } from '../util/random.js';
import type { ContainerRecord } from './model.js';
import { parseStoredLink } from '../network/links.js';

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** A name is a file name component in places (logs, /etc/hosts aliases): keep it one. */
const MAX_NAME = 255;

export function stateFile(id: string): string {
  return join(paths.container(id), 'state.json');
}

export function listIds(): string[] {
  try {
    return readdirSync(paths.containers()).filter((d) => /^[0-9a-f]{64}$/.test(d) && existsSync(stateFile(d)));
  } catch {
    return [];
  }
}

/** Every container directory, also one whose first record was never completed. */
export function listAllIds(): string[] {
  try {
    return readdirSync(paths.containers()).filter((d) => /^[0-9a-f]{64}$/.test(d));
  } catch {
    return [];
  }
}

/** Containers with a start in progress, or owned by a process (see recover.ts), also when that owner died. */
export function startMarked(): string[] {
  return listAllIds().filter((id) => existsSync(join(paths.container(id), 'starting')) || existsSync(join(paths.container(id), 'ephemeral')));
}

export function read(id: string): ContainerRecord {
  return readJson<ContainerRecord>(stateFile(id));
}

export function list(): ContainerRecord[] {
  const out: ContainerRecord[] = [];
  for (const id of listIds()) {
    try {
      out.push(read(id));
    } catch {
      // removed between readdir and read
    }
  }
  return out;
}

/** Finds a container by full ID, name, or unique ID prefix (Docker's order). */
export function find(ref: string): ContainerRecord {
  const all = list();
  const name = ref.startsWith('/') ? ref : `/${ref}`;
  const exact = all.find((c) => c.Id === ref) ?? all.find((c) => c.Name === name);
  if (exact) return exact;
  const hits = /^[0-9a-f]+$/.test(ref) ? all.filter((c) => c.Id.startsWith(ref)) : [];
  if (hits.length === 1) return hits[0];
  if (hits.length > 1) throw new SkiffError(`multiple containers found with prefix: ${ref}`);
  throw new NoSuchContainer(`No such container: ${ref}`, 1);
}

/** find() knows no container by that name or id (other failures are other errors). */
export class NoSuchContainer extends SkiffError {}

/**
 * docker-names' "adjective_scientist" (with a digit on retries). In the CLI
 * bundle its word lists load on first use (tools/bundle.mjs, LAZY_PACKAGES):
 * only create needs them.
 */
function randomName(retry: boolean): string {
  return dockerNames.getRandomName(retry);
}

/** A name a user asks for: Docker's characters and length. */
function checkName(wanted: string): void {
  if (wanted.length > MAX_NAME) {
    throw new SkiffError(`Invalid container name (${wanted.slice(0, 20)}…): at most ${MAX_NAME} characters are allowed`);
  }
  if (!NAME_RE.test(wanted)) throw new SkiffError(`Invalid container name (${wanted}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
}

/** The names in use, each with its container's ID. Call under the "names" lock. */
function takenNames(): Map<string, string> {
  return new Map(list().map((c) => [c.Name.slice(1), c.Id]));
}

function conflict(wanted: string, id: string): SkiffError {
  return new SkiffError(`Conflict. The container name "/${wanted}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`);
}

/** Reserves an ID and a unique name, and writes the first record. */
export function create(build: (id: string, name: string) => ContainerRecord, wanted?: string, claimStart?: (id: string) => void): ContainerRecord {
  if (wanted !== undefined) checkName(wanted);
  return withLock('names', () => {
    const taken = takenNames();
    if (wanted !== undefined && taken.has(wanted)) throw conflict(wanted, taken.get(wanted)!);
    let name = wanted;
    for (let i = 0; name === undefined || taken.has(name); i++) name = randomName(i > 0);
    const id = randomHex(32);
    const rec = build(id, name);
    mkdirSync(paths.container(id), { recursive: true, mode: 0o711 });
    try {
      claimStart?.(id); // before the record: no sweep may see it unowned
      writeJsonAtomic(stateFile(id), rec);
    } catch (e) {
      removeDir(id); // e.g. a full disk: no empty container dir stays behind
      throw diskFailure(e as Error, 'writing the container record');
    }
    return rec;
  });
}

/** Applies `fn` to the current record under the container's lock and saves it. */
export function update(id: string, fn: (rec: ContainerRecord) => void): ContainerRecord {
  return withLock(`ctr-${id}`, () => {
    const rec = read(id);
    fn(rec);
    writeJsonAtomic(stateFile(id), rec);
    return rec;
  });
}

export function removeDir(id: string): void {
  // Retries: a file another process creates during the walk gives ENOTEMPTY.
  rmSync(paths.container(id), { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  rmSync(join(paths.locks(), `ctr-${id}.lock`), { force: true });
  rmSync(join(paths.locks(), `rootfs-${id}.lock`), { force: true }); // rootfs.ts's rootfsLock
}

/**
 * `docker rename`: the container gets NAME, under the lock that makes names
 * unique. A link names its target, so other containers' links to the old
 * name follow (their aliases stay), as links to a container do in Docker.
 */
export function rename(id: string, name: string): void {
  checkName(name);
  withLock('names', () => {
    const rec = read(id);
    const old = rec.Name.slice(1);
    if (name === old) throw new SkiffError('Renaming a container with the same name as its current name');
    const taken = takenNames();
    if (taken.has(name)) throw conflict(name, taken.get(name)!);
    update(id, (r) => { r.Name = `/${name}`; });
    for (const other of list()) {
      const links = other.HostConfig.Links ?? [];
      if (!links.some((l) => parseStoredLink(l).target === old)) continue;
      update(other.Id, (r) => {
        r.HostConfig.Links = links.map((l) => {
          const { target, alias } = parseStoredLink(l);
          return target === old ? `${name}:${alias}` : l;
        });
      });
    }
  });
}
