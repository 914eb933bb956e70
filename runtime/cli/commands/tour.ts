// `skiff tour [LESSON]`: a guided lesson in namespaces, cgroups and the rest,
// run for real on this machine (runtime/teach/).
import type { CommandModule } from 'yargs';
import { detectHostLayout } from '../../cgroups/index.js';
import { ImageStore } from '../../image/store.js';
import { freePort, runTour, tourMarkdown } from '../../teach/tour.js';
import { lessons } from '../../teach/lessons.js';
import { SkiffError } from '../../util/errors.js';

interface Args { lesson?: string; yes: boolean; markdown: boolean; list: boolean }

const cmd: CommandModule<object, Args> = {
  command: 'tour [lesson]',
  describe: 'A guided, runnable lesson: uts, pid, mnt, ipc, net, user, cgroup, overlay, pivot_root, capabilities, bridge',
  builder: (y) => y
    .positional('lesson', { type: 'string', describe: 'One lesson by name (default: all)' })
    .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Run straight through, without pausing between steps' })
    .option('list', { type: 'boolean', default: false, describe: 'List the lessons' })
    .option('markdown', { type: 'boolean', default: false, describe: 'Print the lessons as Markdown (docs/tour.md) without running anything' }) as never,
  handler: async (a) => {
    if (a.markdown) {
      process.stdout.write(tourMarkdown());
      return;
    }
    if (a.list) {
      for (const l of lessons({ port: 0, cgroupV2: false })) process.stdout.write(`${l.name.padEnd(14)}${l.title}\n`);
      return;
    }
    try {
      new ImageStore().resolve('busybox');
    } catch {
      throw new SkiffError('the tour runs busybox containers: load the image first (skiff load -i rootfs-fixtures/out/busybox.tar, or skiff pull busybox)');
    }
    const pause = !a.yes && !!process.stdin.isTTY;
    const lines = pause ? (await import('node:readline')).createInterface({ input: process.stdin }) : undefined;
    const failed = await runTour({ port: await freePort(), cgroupV2: detectHostLayout().mode === 'unified' }, {
      only: a.lesson, pause, skiff: [process.execPath, process.argv[1]],
      write: (t) => process.stdout.write(t),
      readLine: () => new Promise((resolve) => lines!.once('line', () => resolve())),
    });
    lines?.close();
    if (failed) process.exitCode = 1;
  },
};
export default cmd;
