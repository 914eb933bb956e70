// The top-level Vagrantfile is valid for the providers it configures (libvirt
// here; `vagrant validate` loads the provider plugins it finds). Needs Debian's
// vagrant and vagrant-libvirt; test/deps.sh test installs both.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { needs } from '../integration/_tools.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'); // dist/test/unit -> repo

needs({ vagrant: 'vagrant', '/usr/share/doc/vagrant-libvirt': 'vagrant-libvirt' })('vagrant validate accepts the Vagrantfile (Debian 12 box, libvirt and VirtualBox, provision.sh)', (t) => {
  const r = spawnSync('vagrant', ['validate'], { cwd: repo, encoding: 'utf8', env: { ...process.env, VAGRANT_CHECKPOINT_DISABLE: '1' }, timeout: 120_000 });
  t.is(r.status, 0, `vagrant validate: ${r.stdout}${r.stderr}`);
  t.regex(r.stdout, /Vagrantfile validated successfully/);
  // What the README promises of it: a Debian 12 box, both providers, and the one provisioning script.
  const vf = readFileSync(join(repo, 'Vagrantfile'), 'utf8');
  t.regex(vf, /config\.vm\.box = "debian\/bookworm64"/);
  t.regex(vf, /provider "libvirt"/);
  t.regex(vf, /provider "virtualbox"/);
  t.regex(vf, /bash \/vagrant\/test\/vm\/provision\.sh/);
});
