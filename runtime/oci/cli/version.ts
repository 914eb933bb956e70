// skiff-runc --version: runc's three lines (clients parse "runc version" and "spec:").
import type { Verb } from './args.js';

const verb: Verb = async () => {
  process.stdout.write('runc version 1.1.5-skiff\ncommit: skiff\nspec: 1.2.0\n');
  return 0;
};
export default verb;
