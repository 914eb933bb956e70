import test from 'ava';
import {
  compileGoTemplate,
  DOCKER_HEADER_FUNCS,
  formatGoTemplate,
  goStruct,
  TemplateError,
} from '../../runtime/cli/template/index.js';

// A trimmed-down `docker inspect` document.
const container = {
  Id: 'c0ffee',
  Name: '/web',
  State: { Status: 'running', Running: true, Paused: false, Pid: 4242, ExitCode: 0, Health: null },
  Config: {
    Hostname: 'c0ffee',
    Env: ['PATH=/usr/bin', 'LANG=C'],
    Cmd: ['sh', '-c', 'echo <hi> && exit'],
    Labels: { 'com.example.z': 'last', 'com.example.a': 'first' },
  },
  NetworkSettings: {
    IPAddress: '172.17.0.2',
    Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': null },
  },
  Mounts: [] as unknown[],
};

const render = (template: string, data: unknown = container) => formatGoTemplate(template, data);

/** The Docker-style message of the error thrown by `fn`. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof TemplateError) return e.message;
    throw e;
  }
  throw new Error('expected a TemplateError');
}

test('docker inspect examples', (t) => {
  t.is(render('{{.Name}}'), '/web');
  t.is(render('{{.State.Pid}}'), '4242');
  t.is(render('{{json .Config}}'),
    '{"Hostname":"c0ffee","Env":["PATH=/usr/bin","LANG=C"],"Cmd":["sh","-c","echo <hi> && exit"],' +
    '"Labels":{"com.example.z":"last","com.example.a":"first"}}');
  t.is(render('{{index .Config.Env 0}}'), 'PATH=/usr/bin');
  t.is(render('{{.NetworkSettings.IPAddress}}'), '172.17.0.2');
});

test('plain text passes through untouched', (t) => {
  t.is(render('no actions here { } }}'), 'no actions here { } }}');
  t.is(render(''), '');
});

test('values print like Go fmt %v', (t) => {
  t.is(render('{{.Config.Env}}'), '[PATH=/usr/bin LANG=C]');
  t.is(render('{{.Config.Labels}}'), 'map[com.example.a:first com.example.z:last]');
  t.is(render('{{.NetworkSettings.Ports}}'), 'map[443/tcp:<nil> 80/tcp:[map[HostIp:0.0.0.0 HostPort:8080]]]');
  t.is(render('{{.State.Running}} {{.State.Paused}} {{.State.ExitCode}}'), 'true false 0');
  t.is(render('{{.Mounts}}'), '[]');
  t.is(render('{{.State.Health}}'), '<nil>');
  t.is(render('{{.}}', 'just a string'), 'just a string');
  t.is(render('{{.}}', { f: 0.5, tiny: 0.00001, big: 1234567.5 }), 'map[big:1.2345675e+06 f:0.5 tiny:1e-05]');
});

test('missing fields print <no value>, like Go on map[string]interface{}', (t) => {
  t.is(render('{{.Nope}}'), '<no value>');
  t.is(render('{{.Nope.Deeper}}'), '<no value>');
  t.is(render('{{.Config.Labels.missing}}'), '<no value>');
  t.is(render('{{index .Config.Labels "missing"}}'), '<no value>');
  t.is(render('{{json .Nope}}'), 'null');
  t.is(render('{{if .Nope}}yes{{else}}no{{end}}'), 'no');
});

test('missingKey: error turns a missing key into an error', (t) => {
  t.is(
    errorOf(() => formatGoTemplate('{{.Nope}}', container, { missingKey: 'error' })),
    'template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"',
  );
  t.is(formatGoTemplate('{{.Name}}', container, { missingKey: 'error' }), '/web');
});

test('field errors read like Go', (t) => {
  t.is(
    errorOf(() => render('{{.State.Health.Status}}')),
    'template parsing error: template: :1:2: executing "" at <.State.Health.Status>: nil pointer evaluating interface {}.Status',
  );
  t.is(
    errorOf(() => render('{{.Name.First}}')),
    'template parsing error: template: :1:2: executing "" at <.Name.First>: can\'t evaluate field First in type string',
  );
});

test('json matches Docker: compact, no HTML escaping, arrays and scalars', (t) => {
  t.is(render('{{json .Config.Cmd}}'), '["sh","-c","echo <hi> && exit"]');
  t.is(render('{{json .State.Pid}}'), '4242');
  t.is(render('{{json .Name}}'), '"/web"');
  t.is(render('{{json .State.Health}}'), 'null');
  t.is(render('{{json .}}', 'a\u2028b'), '"a\\u2028b"'); // Go's encoder still escapes U+2028
  t.is(render('{{.Config | json}}'), render('{{json .Config}}'));
});

test('index with numbers, string keys and several indexes', (t) => {
  t.is(render('{{index .Config.Env 1}}'), 'LANG=C');
  t.is(render('{{index .NetworkSettings.Ports "80/tcp"}}'), '[map[HostIp:0.0.0.0 HostPort:8080]]');
  t.is(render('{{index .NetworkSettings.Ports "80/tcp" 0 "HostPort"}}'), '8080');
  t.is(render('{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}'), '8080');
  t.is(render('{{index .Config.Labels "com.example.a"}}'), 'first');
});

test('index errors', (t) => {
  t.is(
    errorOf(() => render('{{index .Config.Env 5}}')),
    'template parsing error: template: :1:2: executing "" at <index .Config.Env 5>: error calling index: index out of range: 5',
  );
  t.regex(errorOf(() => render('{{index .Config.Env "x"}}')), /cannot index slice\/array with type string$/);
  t.regex(errorOf(() => render('{{index .Nope 0}}')), /error calling index: index of untyped nil$/);
});

test('range over slices and maps, with variables and else', (t) => {
  t.is(render('{{range .Config.Env}}{{.}} {{end}}'), 'PATH=/usr/bin LANG=C ');
  t.is(render('{{range $i, $e := .Config.Env}}{{$i}}:{{$e}};{{end}}'), '0:PATH=/usr/bin;1:LANG=C;');
  t.is(render('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}},{{end}}'), 'com.example.a=first,com.example.z=last,');
  t.is(render('{{range .Mounts}}x{{else}}no mounts{{end}}'), 'no mounts');
  t.is(render('{{range .Nope}}x{{else}}nil{{end}}'), 'nil');
  t.is(
    render('{{range $p, $conf := .NetworkSettings.Ports}}{{$p}}->{{if $conf}}{{(index $conf 0).HostPort}}{{else}}none{{end}} {{end}}'),
    '443/tcp->none 80/tcp->8080 ',
  );
  t.regex(errorOf(() => render('{{range .Name}}{{end}}')), /range can't iterate over \/web$/);
});

test('nested range and if, $ and break/continue', (t) => {
  const data = { Groups: [{ Name: 'a', Items: [1, 2, 3] }, { Name: 'b', Items: [] }], Sep: '|' };
  t.is(
    render('{{range .Groups}}{{.Name}}:{{range .Items}}{{if eq . 2}}two{{else}}{{.}}{{end}}{{$.Sep}}{{else}}empty{{end}} {{end}}', data),
    'a:1|two|3| b:empty ',
  );
  t.is(render('{{range .Groups}}{{range .Items}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}{{end}}', { Groups: [{ Items: [1, 2, 3, 4] }] }), '1');
});

test('if / else if / else, with, and / or / not, comparisons', (t) => {
  t.is(render('{{if .State.Running}}yes{{else}}no{{end}}'), 'yes');
  t.is(render('{{if .State.Paused}}paused{{else if .State.Running}}running{{else}}stopped{{end}}'), 'running');
  t.is(render('{{with .Config}}{{.Hostname}}{{end}}'), 'c0ffee');
  t.is(render('{{with .Nope}}x{{else}}none{{end}}'), 'none');
  t.is(render('{{if and .State.Running (not .State.Paused)}}up{{end}}'), 'up');
  t.is(render('{{or .Nope "default"}}'), 'default');
  t.is(render('{{and .State.Running .Name}}'), '/web');
  t.is(render('{{if eq .State.Status "exited" "running"}}match{{end}}'), 'match');
  t.is(render('{{if ne .State.ExitCode 0}}failed{{else}}ok{{end}}'), 'ok');
  t.is(render('{{if gt .State.Pid 100}}big{{end}} {{if lt "a" "b"}}lt{{end}}'), 'big lt');
  t.regex(errorOf(() => render('{{eq .State.Pid "x"}}')), /error calling eq: incompatible types for comparison$/);
});

test('pipelines and Docker functions', (t) => {
  t.is(render('{{.Name | upper}}'), '/WEB');
  t.is(render('{{.State.Status | upper | lower}}'), 'running');
  t.is(render('{{upper .State.Status}} {{lower "ABC"}} {{title "hello world-wide_web"}}'), 'RUNNING abc Hello World-Wide_web');
  t.is(render('{{split "a:b:c" ":"}}'), '[a b c]');
  t.is(render('{{join .Config.Env ","}}'), 'PATH=/usr/bin,LANG=C');
  t.is(render('{{join (split "a:b" ":") "-"}}'), 'a-b');
  t.is(render('[{{pad .Name 1 2}}][{{pad "" 1 2}}]'), '[ /web  ][]');
  t.is(render('{{truncate .Id 3}} {{truncate .Id 10}}'), 'c0f c0ffee');
  t.is(render('{{len .Config.Env}} {{len .Config.Labels}} {{len .Name}}'), '2 2 4');
  t.is(render('{{printf "%-6s|%5d|%q" .Name .State.Pid "x"}}'), '/web  | 4242|"x"');
  t.is(render('{{print "a" 1 2 "b"}}'), 'a1 2b');
});

test('println adds spaces and a newline', (t) => {
  t.is(render('{{println .Name}}'), '/web\n');
  t.is(render('{{println .Name .State.Pid}}'), '/web 4242\n');
});

test('literals, variables and assignment', (t) => {
  t.is(render('{{"double \\"quoted\\"\\n"}}{{`raw \\n`}}'), 'double "quoted"\nraw \\n');
  t.is(render('{{42}} {{-1}} {{0x10}} {{true}}'), '42 -1 16 true');
  t.is(render('{{$v := .State.Pid}}pid={{$v}}'), 'pid=4242');
  t.is(render('{{$n := 0}}{{range .Config.Env}}{{$n = .}}{{end}}{{$n}}'), 'LANG=C');
  t.is(render('{{$c := .Config}}{{$c.Hostname}}'), 'c0ffee');
  t.is(render('{{with $x := .Name}}{{$x}}{{end}}'), '/web');
});

test('trim markers and comments', (t) => {
  t.is(render('a  \n {{- .Name -}} \n  b'), 'a/webb');
  t.is(render('a {{- .Name}} b'), 'a/web b');
  t.is(render('{{range .Config.Env -}}\n  {{.}}\n{{- end}}'), 'PATH=/usr/binLANG=C');
  t.is(render('x{{/* a comment */}}y {{- /* trimmed */ -}} z'), 'xyz');
});

test('parse errors read like Docker', (t) => {
  t.is(errorOf(() => render('{{foo .Name}}')), 'template parsing error: template: :1: function "foo" not defined');
  t.is(errorOf(() => render('{{.Name')), 'template parsing error: template: :1: unclosed action');
  t.is(errorOf(() => render('{{if .Name}}x')), 'template parsing error: template: :1: unexpected EOF');
  t.is(errorOf(() => render('x\n{{end}}')), 'template parsing error: template: :2: unexpected {{end}}');
  t.is(errorOf(() => render('{{$x}}')), 'template parsing error: template: :1: undefined variable "$x"');
  t.is(errorOf(() => render('{{}}')), 'template parsing error: template: :1: missing value for command');
  t.is(errorOf(() => render('{{"abc}}')), 'template parsing error: template: :1: unterminated quoted string');
  t.is(errorOf(() => render('{{.Name | "x"}}')), 'template parsing error: template: :1: non executable command in pipeline stage 2');
  t.is(errorOf(() => render('{{#}}')), "template parsing error: template: :1: unrecognized character in action: U+0023 '#'");
  t.is(errorOf(() => render('{{break}}')), 'template parsing error: template: :1: {{break}} outside {{range}}');
});

test('errors carry phase and the undecorated Go message', (t) => {
  const err = t.throws(() => render('{{upper .State.Pid}}'), { instanceOf: TemplateError });
  t.is(err.phase, 'exec');
  t.is(err.detail, 'template: :1:8: executing "" at <.State.Pid>: wrong type for value; expected string; got int');
  t.is(err.message, `template parsing error: ${err.detail}`);
  const parseErr = t.throws(() => render('{{nope}}'), { instanceOf: TemplateError });
  t.is(parseErr.phase, 'parse');
  t.regex(errorOf(() => render('{{upper "a" "b"}}')), /at <upper>: wrong number of args for upper: want 1 got 2$/);
});

test('compile once, execute many; custom and header functions', (t) => {
  const row = compileGoTemplate('{{.ID}}\t{{.Names}}');
  t.is(row.execute({ ID: 'a', Names: 'x' }), 'a\tx');
  t.is(row.execute({ ID: 'b', Names: 'y' }), 'b\ty');
  t.is(formatGoTemplate('{{shout .Name}}', container, { funcs: { shout: (s: string) => `${s}!` } }), '/web!');
  t.is(formatGoTemplate('{{.Name | shout}}', container, { funcs: { shout: (s: string) => `${s}!` } }), '/web!');
  t.is(
    formatGoTemplate('{{upper .Names}}\t{{json .Labels}}', { Names: 'NAMES', Labels: 'LABELS' }, { funcs: DOCKER_HEADER_FUNCS }),
    'NAMES\tLABELS',
  );
});

test('Go structs print as {fields}: an empty struct{} as {} (ExposedPorts, Volumes)', (t) => {
  const exposed = { '5000/tcp': goStruct({}), '53/udp': goStruct({}) };
  t.is(render('{{.}}', exposed), 'map[5000/tcp:{} 53/udp:{}]');
  t.is(render('{{json .}}', exposed), '{"5000/tcp":{},"53/udp":{}}');
  t.is(render('{{.}}', goStruct({ Status: 'running', Pid: 42 })), '{running 42}');
  t.is(render('{{.Status}}', goStruct({ Status: 'running', Pid: 42 })), 'running');
  t.is(render('{{if .}}yes{{end}}', goStruct({})), 'yes', 'a struct is always true');
  t.is(render('{{.}}', {}), 'map[]', 'a plain object is still a map');
});
