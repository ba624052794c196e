// npm run docs — regenerates docs/procedures/ from workflows/ (the test suite fails while they differ).
import fs from 'node:fs';
import path from 'node:path';
import { procedureDefinitions } from '../workflows/index.ts';
import { procedureDoc, proceduresIndex } from '../src/engine/procedureDoc.ts';

const dir = path.resolve('docs/procedures');
fs.mkdirSync(dir, { recursive: true });
for (const def of procedureDefinitions) fs.writeFileSync(path.join(dir, `${def.id}.md`), procedureDoc(def));
fs.writeFileSync(path.join(dir, 'README.md'), proceduresIndex(procedureDefinitions));
console.log(`wrote ${procedureDefinitions.length} procedure pages to ${dir}`);
