// Loading images (docker-archive and OCI layout) and running what was loaded.
import { join } from 'node:path';
import { fixtures, harness, it } from './_harness.js';


it('load reads a docker-archive and an OCI layout tar; images lists them', async (t) => {
  const h = await harness(t, []);
  t.is(await h.ok(t, ['load', '-i', join(fixtures, 'busybox.tar')]), 'Loaded image: busybox:latest\n');
  const oci = await h.ok(t, ['load', '-i', join(fixtures, 'busybox-oci.tar')]);
  t.regex(oci, /^Loaded image ID: sha256:[0-9a-f]{64}\n$/);
  const images = await h.ok(t, ['images']);
  t.regex(images, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\n/);
  t.regex(images, /busybox\s+latest\s+[0-9a-f]{12}\s+.*\s+1\.98MB/);
  const id = oci.trim().split(': ')[1];
  t.is((await h.ok(t, ['run', '--rm', id.slice(7, 19), 'echo', 'from oci'])).trim(), 'from oci');
});

it('layer whiteouts hide files and opaque dirs replace contents', async (t) => {
  const h = await harness(t, ['busybox-layered']);
  const out = await h.ok(t, ['run', '--rm', 'layered', 'sh', '-c', 'ls /etc/old.txt 2>&1; ls /opt/stuff; cat /new.txt']);
  t.regex(out, /No such file or directory/);
  t.true(out.includes('\nc\nlayer2\n'));
});
