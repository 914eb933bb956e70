// GET /events: container events (create, start, die, destroy), seen by
// comparing the container records on disk every quarter second, since
// containers change under their monitors and the CLI, not under this
// service. Image events (pull, push, tag, untag, delete, load, save) are
// those of this service's own requests, as Docker reports its daemon's.
// A stream from now on: there is no history to replay for `since`.
import { EventEmitter } from 'node:events';
import type { ContainerRecord } from '../container/model.js';
import * as store from '../container/store.js';
import { refresh } from '../container/lifecycle.js';
import { sleep } from '../util/proc.js';
import { filterFlags, type Ctx, type Router } from './router.js';

const POLL_MS = 250;

interface Seen { running: boolean; startedAt: string; rec: ContainerRecord }

function snapshot(): Map<string, Seen> {
  const out = new Map<string, Seen>();
  for (const r of store.list()) {
    const rec = r.State.Running ? refresh(r) : r;
    out.set(rec.Id, { running: rec.State.Running, startedAt: rec.State.StartedAt, rec });
  }
  return out;
}

const NEVER = '0001-01-01T00:00:00Z';

/** What happened between two snapshots, in the order Docker reports it. */
export function changes(before: Map<string, Seen>, after: Map<string, Seen>): Array<{ action: string; rec: ContainerRecord }> {
  const out: Array<{ action: string; rec: ContainerRecord }> = [];
  const emit = (action: string, rec: ContainerRecord) => out.push({ action, rec });
  for (const [id, now] of after) {
    const was = before.get(id);
    if (!was) emit('create', now.rec);
    if (now.startedAt !== (was?.startedAt ?? NEVER)) {
      // A (re)start since the last look; it may have ended already.
      if (was?.running) emit('die', was.rec);
      emit('start', now.rec);
      if (!now.running) emit('die', now.rec);
    } else if (was?.running && !now.running) {
      emit('die', now.rec);
    }
  }
  for (const [id, was] of before) {
    if (after.has(id)) continue;
    if (was.running) emit('die', was.rec);
    emit('destroy', was.rec);
  }
  return out;
}

function message(action: string, rec: ContainerRecord) {
  const now = Date.now();
  const attributes: Record<string, string> = { ...(rec.Config.Labels ?? {}), image: rec.Config.Image, name: rec.Name.slice(1) };
  // Known only when the exit was seen before the record went (an --rm container may be gone first).
  if (action === 'die' && !rec.State.Running) attributes.exitCode = String(rec.State.ExitCode);
  return {
    status: action, id: rec.Id, from: rec.Config.Image, Type: 'container', Action: action,
    Actor: { ID: rec.Id, Attributes: attributes }, scope: 'local', time: Math.floor(now / 1000), timeNano: now * 1e6,
  };
}

const imageBus = new EventEmitter();
imageBus.setMaxListeners(0);

interface ImageEventMsg { action: string; id: string; name: string; time: number }

/**
 * Reports an image event to every /events stream. `id` and `name` as Docker
 * has them: pull and push name the reference; tag the image ID and the new
 * name; untag, delete, load and save the image ID.
 */
export function imageEvent(action: string, id: string, name = id): void {
  imageBus.emit('event', { action, id, name, time: Date.now() } satisfies ImageEventMsg);
}

function imageMessage(e: ImageEventMsg) {
  return {
    status: e.action, id: e.id, Type: 'image', Action: e.action, Actor: { ID: e.id, Attributes: { name: e.name } },
    scope: 'local', time: Math.floor(e.time / 1000), timeNano: e.time * 1e6,
  };
}

function imageMatches(f: Map<string, string[]>, e: ImageEventMsg): boolean {
  const any = (k: string, ok: (v: string) => boolean) => !f.has(k) || f.get(k)!.some(ok);
  const named = (v: string) => e.id === v || e.name === v || e.id.replace(/^sha256:/, '').startsWith(v.replace(/^sha256:/, '')) || e.name === `${v}:latest`;
  return any('type', (v) => v === 'image') && any('event', (v) => v === e.action) && any('image', named) && !f.has('container') && !f.has('label');
}

function matches(f: Map<string, string[]>, action: string, rec: ContainerRecord): boolean {
  const any = (k: string, ok: (v: string) => boolean) => !f.has(k) || f.get(k)!.some(ok);
  return any('type', (v) => v === 'container')
    && any('event', (v) => v === action)
    && any('container', (v) => rec.Id.startsWith(v) || rec.Name === `/${v}`)
    && any('image', (v) => rec.Config.Image === v || rec.Image === v)
    && (f.get('label') ?? []).every((v) => {
      const [k, ...rest] = v.split('=');
      return Object.hasOwn(rec.Config.Labels ?? {}, k) && (rest.length === 0 || rec.Config.Labels[k] === rest.join('='));
    });
}

async function events(c: Ctx): Promise<void> {
  const f = new Map<string, string[]>();
  for (const flag of filterFlags(c.query)) {
    const i = flag.indexOf('=');
    f.set(flag.slice(0, i), [...(f.get(flag.slice(0, i)) ?? []), flag.slice(i + 1)]);
  }
  const until = Number(c.query.get('until') || 0) * 1000;
  c.res.writeHead(200, { 'Content-Type': 'application/json' });
  c.res.flushHeaders();
  let open = true;
  c.req.socket.once('close', () => (open = false));
  const onImage = (e: ImageEventMsg) => { if (open && imageMatches(f, e)) c.res.write(`${JSON.stringify(imageMessage(e))}\n`); };
  imageBus.on('event', onImage);
  c.res.once('close', () => imageBus.off('event', onImage));
  let before = snapshot();
  while (open && !(until && Date.now() >= until)) {
    await sleep(POLL_MS);
    const after = snapshot();
    for (const { action, rec } of changes(before, after)) {
      if (matches(f, action, rec)) c.res.write(`${JSON.stringify(message(action, rec))}\n`);
    }
    before = after;
  }
  imageBus.off('event', onImage);
  c.res.end();
}

export function eventRoutes(r: Router): void {
  r.on('GET', '/events', events);
}
