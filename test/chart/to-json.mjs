// Reads multi-document YAML (helm template output) on stdin, prints a JSON array of the
// non-empty documents. Uses the `yaml` package validate-manifests.sh installs; argv[2] is its
// tools directory (<PETREL_TOOLS_DIR>/validate-manifests).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(path.resolve(process.argv[2]), 'package.json'));
const YAML = require('yaml');
const docs = YAML.parseAllDocuments(readFileSync(0, 'utf8'), { version: '1.1' });
const out = [];
for (const doc of docs) {
  if (doc.errors.length > 0) {
    console.error(doc.errors.map(String).join('\n'));
    process.exit(1);
  }
  const value = doc.toJS();
  if (value !== null && value !== undefined) out.push(value);
}
process.stdout.write(JSON.stringify(out));
