import test from 'ava';
import { expandVariables, expandWords, parseDockerfile, splitWords, type Instruction } from '../../runtime/build/dockerfile.js';
import { SkiffError } from '../../runtime/util/errors.js';

const strip = (i: Instruction): Pick<Instruction, 'keyword' | 'args' | 'json' | 'flags' | 'line' | 'endLine'> => ({
  keyword: i.keyword, args: i.args, json: i.json, flags: i.flags, line: i.line, endLine: i.endLine,
});

function fails(t: import('ava').ExecutionContext, text: string, message: string | RegExp, file?: string): void {
  const err = t.throws(() => parseDockerfile(text, file), { instanceOf: SkiffError });
  t.is(err?.exitCode, 1);
  if (typeof message === 'string') t.is(err?.message, message);
  else t.regex(err?.message ?? '', message);
}

// The seed's example (docker-notes.txt), as written: the indentation, its
// typo `FORM`, and `//` notes that are not Dockerfile comments.
const SEED = [
  '\t\tFORM ubuntu:15.04\t\t//image的源',
  '\t\tMAINTAINER Andy Lee<mhpmii@126.com>\t//维护者的信息',
  '\t\t#RUN指令在image中执行命令，安装一些软件包 ',
  '\t\tRUN\tapt-get -qq update',
  '\t\tRUN apt-get -qqy install ruby ruby-dev',
  '\t\tRUN gem install sinatra',
].join('\n');

// The same, adapted to busybox: what the build test runs.
const SEED_BUSYBOX = [
  'FROM busybox',
  'MAINTAINER Andy Lee<mhpmii@126.com>',
  '#RUN指令在image中执行命令，安装一些软件包 ',
  'RUN\techo updated > /var/update.log',
  'RUN mkdir -p /opt/ruby && echo ruby ruby-dev > /opt/ruby/installed',
  'RUN echo sinatra > /opt/gems',
  '',
].join('\n');

test("the seed's own Dockerfile fails on its typo, naming the line", (t) => {
  fails(t, SEED, 'Dockerfile:1: unknown instruction: FORM (did you mean FROM?)');
  // With the typo fixed, the `//` note is a second argument to FROM.
  fails(t, SEED.replace('FORM', 'FROM'), 'Dockerfile:1: FROM requires either one or three arguments');
});

test("the seed's Dockerfile, adapted to busybox", (t) => {
  const df = parseDockerfile(SEED_BUSYBOX);
  t.is(df.escape, '\\');
  t.deepEqual(df.globalArgs, []);
  t.is(df.stages.length, 1);
  const [stage] = df.stages;
  t.is(stage.base, 'busybox');
  t.is(stage.name, undefined);
  t.is(stage.fromLine, 1);
  t.is(stage.from.text, 'FROM busybox');
  t.deepEqual(stage.instructions.map((i) => [i.line, i.keyword, i.args]), [
    [2, 'MAINTAINER', 'Andy Lee<mhpmii@126.com>'],
    [4, 'RUN', 'echo updated > /var/update.log'],
    [5, 'RUN', 'mkdir -p /opt/ruby && echo ruby ruby-dev > /opt/ruby/installed'],
    [6, 'RUN', 'echo sinatra > /opt/gems'],
  ]);
  t.is(stage.instructions[1].text, 'RUN\techo updated > /var/update.log');
  t.is(stage.instructions[1].json, undefined);
  t.is(df.instructionCount, 5);
});

test('keywords are case-insensitive; text keeps them as written', (t) => {
  const df = parseDockerfile('from busybox AS Base\nrun echo hi\nCmd ["sh"]\n');
  t.is(df.stages[0].name, 'base');
  t.deepEqual(df.stages[0].instructions.map((i) => [i.keyword, i.text]), [['RUN', 'run echo hi'], ['CMD', 'Cmd ["sh"]']]);
});

test('line continuations with \\: joined as Docker does, comments and blank lines inside skipped', (t) => {
  const df = parseDockerfile([
    'FROM busybox',
    '# a comment',
    '',
    'RUN echo one \\',
    '    two \\   ', // escape char followed by blanks still continues
    '# a comment inside the continuation',
    '   # an indented one',
    '',
    '    three',
    'RUN a\\',
    'b',
    'ENV A=1 \\',
    '    B=2',
  ].join('\n'));
  const [run1, run2, env] = df.stages[0].instructions;
  t.deepEqual(strip(run1), { keyword: 'RUN', args: 'echo one     two     three', json: undefined, flags: {}, line: 4, endLine: 9 });
  t.is(run1.text, 'RUN echo one     two     three');
  t.deepEqual([run2.args, run2.line, run2.endLine], ['ab', 10, 11]);
  t.deepEqual(env.pairs, [{ key: 'A', value: '1' }, { key: 'B', value: '2' }]);
  t.deepEqual([env.line, env.endLine], [12, 13]);
});

test('a backslash that does not end the line is not a continuation', (t) => {
  const df = parseDockerfile('FROM busybox\nRUN printf "a\\nb\\\\" x\nCMD x\n');
  t.is(df.stages[0].instructions[0].args, 'printf "a\\nb\\\\" x');
  t.is(df.stages[0].instructions[1].keyword, 'CMD');
});

test('a trailing escaped escape char is not a continuation (BuildKit)', (t) => {
  const df = parseDockerfile('FROM busybox\nENV C trailing\\\\backslash\\\\\nENV D x\nRUN a \\\\  \nRUN b\n');
  const [c, d, runA, runB] = df.stages[0].instructions;
  t.deepEqual(c.pairs, [{ key: 'C', value: 'trailing\\\\backslash\\\\' }]);
  t.is(expandVariables(c.pairs![0].value!, {}), 'trailing\\backslash\\');
  t.deepEqual([d.keyword, d.pairs], ['ENV', [{ key: 'D', value: 'x' }]]);
  t.deepEqual([runA.args, runB.args], ['a \\\\', 'b']);
  t.is(df.stages[0].instructions.length, 4);
  // Under `# escape=\``, a doubled backtick at the end is not a continuation either; a lone one is.
  const bt = parseDockerfile('# escape=`\nFROM busybox\nRUN a ``\nRUN b `\n  c\n`\nRUN d\n');
  t.deepEqual(bt.stages[0].instructions.map((i) => i.args), ['a ``', 'b   c', 'd']);
});

test('# escape=` makes the backtick the escape and continuation char', (t) => {
  const df = parseDockerfile([
    '# escape=`',
    '# syntax=docker/dockerfile:1',
    'FROM busybox',
    'COPY testfile.txt c:\\',
    'RUN dir c:\\ `',
    '    # skipped',
    '    && echo done',
    'ENV P="a`"b"',
  ].join('\n'));
  t.is(df.escape, '`');
  const [copy, run, env] = df.stages[0].instructions;
  t.is(copy.args, 'testfile.txt c:\\');
  t.deepEqual([run.args, run.line, run.endLine], ['dir c:\\     && echo done', 5, 7]);
  t.deepEqual(splitWords(copy.args, df.escape), ['testfile.txt', 'c:\\']);
  t.is(expandVariables(env.pairs![0].value!, {}, df.escape), 'a"b');
});

test('parser directives only count at the very top', (t) => {
  t.is(parseDockerfile('# escape=\\\nFROM busybox').escape, '\\');
  t.is(parseDockerfile('#escape = `\nFROM busybox').escape, '`');
  t.is(parseDockerfile('# a comment\n# escape=`\nFROM busybox').escape, '\\');
  t.is(parseDockerfile('\n# escape=`\nFROM busybox').escape, '\\');
  t.is(parseDockerfile('# unknown=1\n# escape=`\nFROM busybox').escape, '\\');
  t.is(parseDockerfile('FROM busybox\n# escape=`\nRUN a \\\n b').stages[0].instructions[0].args, 'a  b');
  fails(t, '# escape=x\nFROM busybox', "Dockerfile:1: invalid escape token 'x' does not match ` or \\");
  fails(t, '# escape=`\n# escape=`\nFROM busybox', 'Dockerfile:2: only one escape parser directive can be used');
});

test('the # check= directive is accepted, and an # escape= after it still applies', (t) => {
  const df = parseDockerfile('# check=skip=JSONArgsRecommended;error=true\n# escape=`\nFROM busybox\nRUN a `\n b\n');
  t.is(df.escape, '`');
  t.is(df.stages[0].instructions[0].args, 'a  b');
  t.is(parseDockerfile('# syntax=docker/dockerfile:1\n#check = skip=all\n# escape=`\nFROM busybox').escape, '`');
  fails(t, '# check=skip=all\n# check=error=true\nFROM busybox', 'Dockerfile:2: only one check parser directive can be used');
});

test('flag values keep chars that are not the escape char: under # escape=` a backslash is literal', (t) => {
  const bt = parseDockerfile('# escape=`\nFROM busybox\nCOPY --chown=a\\b --chmod="7`55" src c:\\dst\n');
  const copy = bt.stages[0].instructions[0];
  t.deepEqual(copy.flags, { chown: 'a\\b', chmod: '755' });
  t.is(copy.args, 'src c:\\dst');
  // With the default escape char, \ still escapes in a flag (BuildKit), and ` is literal.
  const bs = parseDockerfile('FROM busybox\nCOPY --chown=a\\b --chmod=7`5 src dst\n');
  t.deepEqual(bs.stages[0].instructions[0].flags, { chown: 'ab', chmod: '7`5' });
});

test('CRLF line endings and a byte-order mark', (t) => {
  const df = parseDockerfile('\uFEFFFROM busybox\r\nRUN echo a \\\r\n  b\r\nCMD ["sh"]\r\n');
  t.is(df.stages[0].base, 'busybox');
  t.is(df.stages[0].instructions[0].args, 'echo a   b');
  t.deepEqual(df.stages[0].instructions[1].json, ['sh']);
});

test('JSON (exec) form only for a JSON array of strings; anything else is the shell form', (t) => {
  const df = parseDockerfile([
    'FROM busybox',
    'RUN ["echo", "hello world"]',
    'CMD [ "sh" , "-c", "echo $HOME" ]',
    'ENTRYPOINT []',
    "CMD ['sh']", // single quotes are not JSON
    'RUN [ -f /etc/passwd ] && echo yes',
    'CMD ["unterminated"',
    'CMD echo hi',
    'SHELL ["/bin/sh", "-ec"]',
    'COPY ["a file", "dir/"]',
    'VOLUME ["/data", "/logs"]',
    'VOLUME /a /b',
    'ENV X ["not", "json"]',
  ].join('\n'));
  const i = df.stages[0].instructions;
  t.deepEqual(i[0].json, ['echo', 'hello world']);
  t.is(i[0].args, '["echo", "hello world"]');
  t.deepEqual(i[1].json, ['sh', '-c', 'echo $HOME']);
  t.deepEqual(i[2].json, []);
  t.is(i[3].json, undefined);
  t.is(i[3].args, "['sh']");
  t.is(i[4].json, undefined);
  t.is(i[5].json, undefined);
  t.is(i[6].json, undefined);
  t.deepEqual(i[7].json, ['/bin/sh', '-ec']);
  t.deepEqual(i[8].json, ['a file', 'dir/']);
  t.deepEqual(i[9].json, ['/data', '/logs']);
  t.is(i[10].json, undefined);
  t.is(i[11].json, undefined);
  t.deepEqual(i[11].pairs, [{ key: 'X', value: '["not", "json"]' }]);
});

test('a JSON array with non-strings is an error, as in Docker', (t) => {
  fails(t, 'FROM busybox\nCMD ["sleep", 10]', 'Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only');
  fails(t, 'FROM busybox\nSHELL /bin/bash -c', 'Dockerfile:2: SHELL requires the arguments to be in JSON form');
});

test('flags on COPY, ADD and FROM', (t) => {
  const df = parseDockerfile([
    'FROM --platform=linux/amd64 busybox AS build',
    'FROM busybox',
    'COPY --from=build --chown=1000:1000 /out/app /usr/bin/app',
    'COPY --link src dst',
    'ADD --chmod=755 --chown="1 2" tool.tar /opt/',
    'COPY -- --weird dst',
    'COPY --exclude=*.md --exclude=*.txt . /src',
    'RUN --network=none echo offline',
  ].join('\n'));
  const build = df.stages[0];
  t.deepEqual(build.from.flags, { platform: 'linux/amd64' });
  t.is(build.from.args, 'busybox AS build');
  t.is(build.base, 'busybox');
  t.is(build.from.text, 'FROM --platform=linux/amd64 busybox AS build');
  const [copy, link, add, dashdash, exclude, run] = df.stages[1].instructions;
  t.deepEqual(copy.flags, { from: 'build', chown: '1000:1000' });
  t.is(copy.args, '/out/app /usr/bin/app');
  t.is(copy.text, 'COPY --from=build --chown=1000:1000 /out/app /usr/bin/app');
  t.deepEqual(link.flags, { link: '' });
  t.is(link.args, 'src dst');
  t.deepEqual(add.flags, { chmod: '755', chown: '1 2' });
  t.is(add.args, 'tool.tar /opt/');
  t.deepEqual(dashdash.flags, {});
  t.is(dashdash.args, '--weird dst');
  t.deepEqual(exclude.flagList, [['exclude', '*.md'], ['exclude', '*.txt']]);
  t.deepEqual(run.flags, { network: 'none' });
  t.is(run.args, 'echo offline');
});

test('bad flags are errors naming the line', (t) => {
  fails(t, 'FROM busybox\nCOPY --frm=build a b', 'Dockerfile:2: unknown flag: frm');
  fails(t, 'FROM busybox\n\nCOPY --from a b', 'Dockerfile:3: missing a value on flag: from');
  fails(t, 'FROM busybox\nCOPY --from=a --from=b x y', 'Dockerfile:2: duplicate flag specified: from');
  fails(t, 'FROM busybox\nCOPY --link=maybe x y', 'Dockerfile:2: expecting boolean value for flag link, not: maybe');
  fails(t, 'FROM busybox\nWORKDIR --x=1 /a', 'Dockerfile:2: unknown flag: x');
});

test('multi-stage builds with AS names', (t) => {
  const df = parseDockerfile([
    'FROM busybox AS Builder',
    'RUN echo build > /out',
    '',
    'FROM ${BASE}:latest as final',
    'COPY --from=builder /out /out',
    'FROM scratch',
    'COPY --from=final /out /',
  ].join('\n'));
  t.deepEqual(df.stages.map((s) => [s.name, s.base, s.fromLine, s.instructions.map((i) => i.keyword)]), [
    ['builder', 'busybox', 1, ['RUN']],
    ['final', '${BASE}:latest', 4, ['COPY']],
    [undefined, 'scratch', 6, ['COPY']],
  ]);
  t.is(df.instructionCount, 6);
  fails(t, 'FROM busybox AS a\nFROM busybox AS A', 'Dockerfile:2: duplicate stage name "a"');
  fails(t, 'FROM busybox AS 1st', 'Dockerfile:1: invalid name for build stage: "1st", name can\'t start with a number or contain symbols');
  fails(t, 'FROM busybox alias', 'Dockerfile:1: FROM requires either one or three arguments');
  fails(t, 'FROM', 'Dockerfile:1: FROM requires either one or three arguments');
});

test('ARGs before the first FROM are global', (t) => {
  const df = parseDockerfile([
    '# versions',
    'ARG BASE=busybox',
    'ARG TAG="latest" EXTRA',
    'FROM ${BASE}:${TAG}',
    'ARG TAG',
    'RUN echo $TAG',
  ].join('\n'));
  t.deepEqual(df.globalArgs.map((a) => [a.line, a.pairs]), [
    [2, [{ key: 'BASE', value: 'busybox' }]],
    [3, [{ key: 'TAG', value: '"latest"' }, { key: 'EXTRA' }]],
  ]);
  const [stage] = df.stages;
  t.is(stage.base, '${BASE}:${TAG}');
  t.deepEqual(stage.instructions[0].pairs, [{ key: 'TAG' }]);
  t.is(df.instructionCount, 5);
  const vars = Object.fromEntries(df.globalArgs.flatMap((a) => a.pairs!).map((p) => [p.key, expandVariables(p.value ?? '', {})]));
  t.is(expandVariables(stage.base, vars), 'busybox:latest');
  fails(t, 'ARG =x\nFROM busybox', 'Dockerfile:1: ARG names can not be blank');
});

test('ENV and LABEL pairs, in both forms', (t) => {
  const df = parseDockerfile([
    'FROM busybox',
    'ENV A=1 B="two words" C=three\\ words D=',
    'ENV MSG hello   "big" world',
    'LABEL "com.example.vendor"="ACME Inc" version=1.0',
  ].join('\n'));
  const [env, legacy, label] = df.stages[0].instructions;
  t.deepEqual(env.pairs, [{ key: 'A', value: '1' }, { key: 'B', value: '"two words"' }, { key: 'C', value: 'three\\ words' }, { key: 'D', value: '' }]);
  t.deepEqual(env.pairs!.map((p) => expandVariables(p.value!, {})), ['1', 'two words', 'three words', '']);
  t.deepEqual(legacy.pairs, [{ key: 'MSG', value: 'hello   "big" world' }]);
  t.is(expandVariables(legacy.pairs![0].value!, {}), 'hello   big world');
  t.deepEqual(label.pairs!.map((p) => [expandVariables(p.key, {}), expandVariables(p.value!, {})]), [['com.example.vendor', 'ACME Inc'], ['version', '1.0']]);
  fails(t, 'FROM busybox\nENV ONLYNAME', 'Dockerfile:2: ENV must have two arguments');
  fails(t, 'FROM busybox\nENV A=1 B', 'Dockerfile:2: Syntax error - can\'t find = in "B". Must be of the form: name=value');
  fails(t, 'FROM busybox\nLABEL', 'Dockerfile:2: LABEL requires at least one argument');
});

test('argument checks of the other instructions', (t) => {
  fails(t, 'FROM busybox\nCOPY onlyone', 'Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined');
  fails(t, 'FROM busybox\nADD ["x"]', 'Dockerfile:2: ADD requires at least two arguments, but only one was provided. Destination could not be determined');
  fails(t, 'FROM busybox\nWORKDIR', 'Dockerfile:2: WORKDIR requires exactly one argument');
  fails(t, 'FROM busybox\nEXPOSE', 'Dockerfile:2: EXPOSE requires at least one argument');
  fails(t, 'FROM busybox\nRUN', 'Dockerfile:2: RUN requires at least one argument');
  fails(t, 'FROM busybox\nVOLUME [""]', 'Dockerfile:2: VOLUME specified can not be an empty string');
  const df = parseDockerfile('FROM busybox\nUSER 1000:1000\nWORKDIR /my dir\nSTOPSIGNAL SIGTERM\nEXPOSE 80/tcp 443\nCMD');
  t.deepEqual(df.stages[0].instructions.map((i) => i.args), ['1000:1000', '/my dir', 'SIGTERM', '80/tcp 443', '']);
});

test('HEALTHCHECK is parsed into its config', (t) => {
  const df = parseDockerfile([
    'FROM busybox',
    'HEALTHCHECK --interval=5m --timeout=3s --start-period=1m30s --retries=3 CMD wget -q localhost || exit 1',
    'HEALTHCHECK CMD ["true"]',
    'HEALTHCHECK NONE',
  ].join('\n'));
  const [a, b, c] = df.stages[0].instructions;
  t.deepEqual(a.healthcheck, { test: ['CMD-SHELL', 'wget -q localhost || exit 1'], interval: 300e9, timeout: 3e9, startPeriod: 90e9, retries: 3 });
  t.is(a.args, 'CMD wget -q localhost || exit 1');
  t.deepEqual(b.healthcheck, { test: ['CMD', 'true'] });
  t.deepEqual(c.healthcheck, { test: ['NONE'] });
  fails(t, 'FROM busybox\nHEALTHCHECK NONE x', 'Dockerfile:2: HEALTHCHECK NONE takes no arguments');
  fails(t, 'FROM busybox\nHEALTHCHECK RUN x', 'Dockerfile:2: Unknown type "RUN" in HEALTHCHECK (try CMD)');
  fails(t, 'FROM busybox\nHEALTHCHECK CMD', 'Dockerfile:2: Missing command after HEALTHCHECK CMD');
  fails(t, 'FROM busybox\nHEALTHCHECK --retries=-1 CMD x', 'Dockerfile:2: --retries cannot be negative (-1)');
  fails(t, 'FROM busybox\nHEALTHCHECK --interval=soon CMD x', 'Dockerfile:2: time: invalid duration "soon"');
});

test('HEALTHCHECK accepts 0 for every flag: the default, as in BuildKit', (t) => {
  const df = parseDockerfile([
    'FROM busybox',
    'HEALTHCHECK --retries=0 --timeout=0 --start-period=0 --start-interval=0 --interval=0 CMD true',
    'HEALTHCHECK --interval=0s --timeout=0ms --retries=0 --start-period=5s CMD true',
  ].join('\n'));
  const [a, b] = df.stages[0].instructions;
  // Zero durations and retries are left out of the config, as Docker's omitempty does.
  t.deepEqual(a.healthcheck, { test: ['CMD-SHELL', 'true'] });
  t.deepEqual(b.healthcheck, { test: ['CMD-SHELL', 'true'], startPeriod: 5e9 });
  fails(t, 'FROM busybox\nHEALTHCHECK --interval=500us CMD x', 'Dockerfile:2: Interval "interval" cannot be less than 1ms');
});

test('ONBUILD holds a checked trigger instruction', (t) => {
  const df = parseDockerfile('FROM busybox\nONBUILD COPY --chown=1:1 . /app/src\nonbuild run echo \\\n  triggered');
  const [copy, run] = df.stages[0].instructions;
  t.is(copy.keyword, 'ONBUILD');
  t.is(copy.args, 'COPY --chown=1:1 . /app/src');
  t.deepEqual(copy.flags, {});
  t.deepEqual(strip(copy.nested!), { keyword: 'COPY', args: '. /app/src', json: undefined, flags: { chown: '1:1' }, line: 2, endLine: 2 });
  t.is(copy.nested!.text, 'COPY --chown=1:1 . /app/src');
  t.is(run.args, 'run echo   triggered');
  t.deepEqual([run.nested!.keyword, run.nested!.args, run.nested!.endLine], ['RUN', 'echo   triggered', 4]);
  fails(t, 'FROM busybox\nONBUILD ONBUILD RUN x', 'Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
  fails(t, 'FROM busybox\nONBUILD FROM busybox', "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger");
  fails(t, 'FROM busybox\nONBUILD maintainer me', "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger");
  fails(t, 'FROM busybox\nONBUILD FORM x', 'Dockerfile:2: unknown instruction: FORM (did you mean FROM?)');
  fails(t, 'FROM busybox\nONBUILD', 'Dockerfile:2: ONBUILD requires at least one argument');
});

test('an unknown instruction names the file and its line', (t) => {
  fails(t, 'FROM busybox\n# comment\nFORM ubuntu:15.04', 'Dockerfile:3: unknown instruction: FORM (did you mean FROM?)');
  fails(t, 'FROM busybox\nRUN a \\\n  b\nCOPPY x y', 'Dockerfile:4: unknown instruction: COPPY (did you mean COPY?)');
  // After a continuation, the next non-blank line belongs to the instruction, whatever it says.
  t.is(parseDockerfile('FROM busybox\nRUN echo a \\\n\nxyzzy').stages[0].instructions[0].args, 'echo a xyzzy');
  fails(t, 'FROM busybox\nBANANA split', 'Dockerfile:2: unknown instruction: BANANA');
  fails(t, 'FROM busybox\nform x', 'build/Dockerfile.dev:2: unknown instruction: form (did you mean FROM?)', 'build/Dockerfile.dev');
});

test('an instruction before any FROM is an error naming its line', (t) => {
  fails(t, 'RUN echo hi', /^Dockerfile:1: no build stage in current context: expected FROM before RUN/);
  fails(t, '# comment\nARG A=1\n\nCOPY a b\nFROM busybox', /^Dockerfile:4: no build stage in current context: expected FROM before COPY/);
  fails(t, 'ARG A=1', /^Dockerfile:1: no build stage in current context/);
});

test('an empty Dockerfile, and one with only comments', (t) => {
  fails(t, '', 'the Dockerfile (Dockerfile) cannot be empty');
  fails(t, '\n  \n\t\n', 'the Dockerfile (Dockerfile) cannot be empty');
  fails(t, '', 'the Dockerfile (ctx/Containerfile) cannot be empty', 'ctx/Containerfile');
  fails(t, '# escape=`\n# nothing here\n', 'Dockerfile: file with no instructions');
});

test('expandVariables: $VAR, ${VAR} and adjacency', (t) => {
  const vars = { A: 'alpha', B: 'beta', EMPTY: '', SP: 'x y' };
  t.is(expandVariables('$A', vars), 'alpha');
  t.is(expandVariables('${A}', vars), 'alpha');
  t.is(expandVariables('${A}_suffix', vars), 'alpha_suffix');
  t.is(expandVariables('$A_suffix', vars), ''); // the name is A_suffix
  t.is(expandVariables('pre${A}${B}post', vars), 'prealphabetapost');
  t.is(expandVariables('$A/$B.tar', vars), 'alpha/beta.tar');
  t.is(expandVariables('/opt/$UNKNOWN/x', vars), '/opt//x');
  t.is(expandVariables('${UNKNOWN}', vars), '');
  t.is(expandVariables('cost: 5$', vars), 'cost: 5$');
  t.is(expandVariables('$SP and  spaces', vars), 'x y and  spaces');
});

test('expandVariables: defaults and alternatives', (t) => {
  const vars = { SET: 'value', EMPTY: '' };
  t.is(expandVariables('${SET:-def}', vars), 'value');
  t.is(expandVariables('${NOPE:-def}', vars), 'def');
  t.is(expandVariables('${EMPTY:-def}', vars), 'def');
  t.is(expandVariables('${EMPTY-def}', vars), '');
  t.is(expandVariables('${NOPE-def}', vars), 'def');
  t.is(expandVariables('${SET:+alt}', vars), 'alt');
  t.is(expandVariables('${NOPE:+alt}', vars), '');
  t.is(expandVariables('${EMPTY:+alt}', vars), '');
  t.is(expandVariables('${EMPTY+alt}', vars), 'alt');
  t.is(expandVariables('${NOPE:-${SET}-x}', vars), 'value-x');
  t.is(expandVariables('${NOPE:-"a b"}', vars), 'a b');
  t.is(expandVariables('${SET:?}', vars), 'value');
  t.throws(() => expandVariables('${NOPE:?must be set}', vars), { instanceOf: SkiffError, message: 'failed to process "${NOPE:?must be set}": NOPE: must be set' });
});

test('expandVariables: escapes and quotes', (t) => {
  const vars = { A: 'alpha' };
  t.is(expandVariables('\\$A', vars), '$A');
  t.is(expandVariables('\\${A}', vars), '${A}');
  t.is(expandVariables('`$A', vars, '`'), '$A');
  t.is(expandVariables('\\$A', vars, '`'), '\\alpha'); // \ is no escape with `# escape=\``
  t.is(expandVariables("'$A'", vars), '$A');
  t.is(expandVariables('"$A is ${A}"', vars), 'alpha is alpha');
  t.is(expandVariables('"\\$A \\"q\\" \\n"', vars), '$A "q" \\n');
  t.is(expandVariables('a\\ b', vars), 'a b');
  t.throws(() => expandVariables('"open', vars), { instanceOf: SkiffError, message: /matching double-quote/ });
  t.throws(() => expandVariables('${A', vars), { instanceOf: SkiffError, message: /missing '}'/ });
  t.throws(() => expandVariables('${}', vars), { instanceOf: SkiffError, message: /bad substitution/ });
});

test('expandVariables: pattern operators', (t) => {
  const vars = { F: 'archive.tar.gz', P: '/usr/local/bin' };
  t.is(expandVariables('${F%.*}', vars), 'archive.tar');
  t.is(expandVariables('${F%%.*}', vars), 'archive');
  t.is(expandVariables('${F#*.}', vars), 'tar.gz');
  t.is(expandVariables('${F##*.}', vars), 'gz');
  t.is(expandVariables('${P/local/opt}', vars), '/usr/opt/bin');
  t.is(expandVariables('${P//\\//:}', vars), ':usr:local:bin');
});

test('splitWords honors quotes and the escape char', (t) => {
  t.deepEqual(splitWords('a  b\tc'), ['a', 'b', 'c']);
  t.deepEqual(splitWords('"my file.txt" \'other file\' /dest/'), ['my file.txt', 'other file', '/dest/']);
  t.deepEqual(splitWords('my\\ file.txt /dest'), ['my file.txt', '/dest']);
  t.deepEqual(splitWords('pre"quoted part"post x'), ['prequoted partpost', 'x']);
  t.deepEqual(splitWords('$HOME/x "${A}"'), ['$HOME/x', '${A}']);
  t.deepEqual(splitWords('a` b c', '`'), ['a b', 'c']);
  t.deepEqual(splitWords('C:\\src C:\\dst', '`'), ['C:\\src', 'C:\\dst']);
  t.deepEqual(splitWords(' 80/tcp  443 '), ['80/tcp', '443']);
  t.deepEqual(splitWords(''), []);
  t.throws(() => splitWords("'open"), { instanceOf: SkiffError, message: /single-quote/ });
});

test('expandWords splits after substitution, like Docker', (t) => {
  const vars = { PORTS: '80 443', DIR: 'my dir' };
  t.deepEqual(expandWords('$PORTS 8080/udp', vars), ['80', '443', '8080/udp']);
  t.deepEqual(expandWords('"$DIR/a b" /x', vars), ['my dir/a b', '/x']);
  t.deepEqual(expandWords("'$DIR' ${NOPE:-/default}", vars), ['$DIR', '/default']);
});
