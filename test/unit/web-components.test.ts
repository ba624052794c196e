import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * The workbench registers a few Element Plus components globally (web/src/main.ts) and each view
 * imports the rest (keeps the first load small). A tag that is neither renders as an unknown
 * element — a 委派/改派 switch that is not there — with only a warning in the console. This finds
 * every <el-…> tag of every .vue file that nothing resolves.
 */

const WEB = path.resolve(import.meta.dirname, '../../web/src');
const vueFiles = (dir: string): string[] =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? vueFiles(path.join(dir, e.name)) : e.name.endsWith('.vue') ? [path.join(dir, e.name)] : []));
const pascal = (tag: string) => tag.split('-').map((p) => p[0].toUpperCase() + p.slice(1)).join('');

describe('Element Plus components of the workbench', () => {
  it('are all registered globally or imported by the file that uses them', () => {
    const global = new Set(fs.readFileSync(path.join(WEB, 'main.ts'), 'utf8').match(/\bEl[A-Z]\w+/g) ?? []);
    const files = vueFiles(WEB);
    expect(files.length).toBeGreaterThan(20);
    const unresolved: string[] = [];
    for (const file of files) {
      const source = fs.readFileSync(file, 'utf8');
      const script = source.slice(0, source.lastIndexOf('</script>') + 1);
      const imported = new Set(script.match(/\bEl[A-Z]\w+/g) ?? []);
      for (const [, tag] of source.matchAll(/<(el-[a-z-]+)/g)) {
        const name = pascal(tag);
        if (!global.has(name) && !imported.has(name)) unresolved.push(`${path.relative(WEB, file)}: <${tag}>`);
      }
    }
    expect([...new Set(unresolved)]).toEqual([]);
  });
});
