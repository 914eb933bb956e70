import { createInterface } from 'node:readline';
import type { CommandModule } from 'yargs';
import { login } from '../../registry/auth.js';
import { parseServer } from '../../registry/reference.js';
import { SkiffError } from '../../util/errors.js';

interface Args { server?: string; username?: string; password?: string; 'password-stdin': boolean }

const cmd: CommandModule<object, Args> = {
  command: 'login [server]',
  describe: 'Log in to a registry',
  builder: (y) => y
    .positional('server', { type: 'string', describe: 'Registry (default: the default registry)' })
    .option('username', { alias: 'u', type: 'string', describe: 'Username' })
    .option('password', { alias: 'p', type: 'string', describe: 'Password' })
    .option('password-stdin', { type: 'boolean', default: false, describe: 'Take the password from stdin' }) as never,
  handler: async (a) => {
    const server = parseServer(a.server);
    let { username, password } = a;
    if (a['password-stdin']) {
      if (password !== undefined) throw new SkiffError('--password and --password-stdin are mutually exclusive');
      if (!username) throw new SkiffError('Must provide --username with --password-stdin');
      password = (await readAll(process.stdin)).replace(/\r?\n$/, '');
    } else if (password !== undefined) {
      process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    }
    if (!username || password === undefined) {
      if (!process.stdin.isTTY) throw new SkiffError('Cannot perform an interactive login from a non TTY device');
      username ||= (await ask('Username: ')).trim();
      if (password === undefined) password = await askHidden('Password: ');
    }
    await login(server, { username: username ?? '', password: password ?? '' });
    process.stdout.write('Login Succeeded\n');
  },
};
export default cmd;

async function readAll(input: NodeJS.ReadableStream): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of input as AsyncIterable<Buffer | string>) parts.push(Buffer.from(c));
  return Buffer.concat(parts).toString('utf8');
}

function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  return new Promise((resolve) => rl.question(question, (answer) => {
    rl.close();
    resolve(answer);
  }));
}

/** Reads a line from the terminal without echoing it. */
function askHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stdout.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stdout.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new SkiffError('login cancelled', 130));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
