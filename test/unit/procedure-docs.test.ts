import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { procedureDefinitions } from '../../workflows/index.ts';
import { procedureDoc, proceduresIndex } from '../../src/engine/procedureDoc.ts';

// The committed procedure pages must be what the charts generate today.
describe('docs/procedures', () => {
  for (const def of procedureDefinitions) {
    it(`docs/procedures/${def.id}.md is up to date (else run npm run docs)`, () => {
      const file = `docs/procedures/${def.id}.md`;
      expect(fs.existsSync(file), `${file} is missing: run npm run docs`).toBe(true);
      expect(fs.readFileSync(file, 'utf8'), `${file} is stale: run npm run docs`).toBe(procedureDoc(def));
    });
  }
  it('docs/procedures/README.md indexes every procedure', () => {
    expect(fs.readFileSync('docs/procedures/README.md', 'utf8')).toBe(proceduresIndex(procedureDefinitions));
  });
});
