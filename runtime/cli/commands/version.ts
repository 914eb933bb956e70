import type { CommandModule } from 'yargs';
import { compileGoTemplate } from '../template/index.js';
import { versionInfo, versionText } from '../version.js';

const cmd: CommandModule<object, { format?: string }> = {
  command: 'version',
  describe: 'Show the skiff version information',
  builder: (y) => y
    .option('format', { alias: 'f', type: 'string', requiresArg: true, describe: 'Format output using a Go template ({{.Client.Version}})' }) as never,
  handler: (a) => {
    if (a.format) {
      const t = compileGoTemplate(a.format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
      process.stdout.write(`${t.execute(versionInfo())}\n`);
    } else {
      process.stdout.write(versionText());
    }
  },
};
export default cmd;
