import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

/**
 * The text of a PDF: `pdftotext` when installed, otherwise a small reader of what Chromium
 * (Skia) writes — Flate-compressed content streams whose fonts carry ToUnicode maps. Enough to
 * prove that a printed document holds a reference number and its Chinese text.
 */
export function pdfText(pdf: Buffer): string {
  const tool = ['/usr/bin/pdftotext', '/usr/local/bin/pdftotext'].find((p) => fs.existsSync(p));
  if (tool) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ow-pdf-'));
    try {
      fs.writeFileSync(path.join(dir, 'doc.pdf'), pdf);
      return execFileSync(tool, ['-enc', 'UTF-8', path.join(dir, 'doc.pdf'), '-'], { encoding: 'utf8' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return readPdfText(pdf);
}

interface PdfObject {
  dict: string;
  stream?: Buffer;
}

function objects(pdf: Buffer): Map<number, PdfObject> {
  const text = pdf.toString('latin1');
  const out = new Map<number, PdfObject>();
  const re = /(\d+)\s+0\s+obj\b/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const start = m.index + m[0].length;
    const end = text.indexOf('endobj', start);
    if (end < 0) break;
    const body = text.slice(start, end);
    const s = body.search(/\bstream\r?\n/);
    if (s < 0) {
      out.set(Number(m[1]), { dict: body });
    } else {
      const dataStart = body.indexOf('\n', s) + 1;
      const dataEnd = body.lastIndexOf('endstream');
      let data = Buffer.from(body.slice(dataStart, dataEnd).replace(/\r?\n$/, ''), 'latin1');
      const dict = body.slice(0, s);
      if (/\/FlateDecode/.test(dict)) {
        try {
          data = zlib.inflateSync(data);
        } catch {
          data = Buffer.alloc(0);
        }
      }
      out.set(Number(m[1]), { dict, stream: data });
    }
    re.lastIndex = end;
  }
  return out;
}

interface CMap {
  bytes: number;
  map: Map<number, string>;
}

const utf16 = (hex: string) => {
  let s = '';
  for (let i = 0; i + 4 <= hex.length; i += 4) s += String.fromCharCode(parseInt(hex.slice(i, i + 4), 16));
  return s;
};

function parseCMap(src: string): CMap {
  const map = new Map<number, string>();
  const range = /begincodespacerange\s*<([0-9a-fA-F]+)>/.exec(src);
  const bytes = range ? range[1].length / 2 : 2;
  for (const block of src.matchAll(/beginbfchar([\s\S]*?)endbfchar/g)) {
    for (const [, from, to] of block[1].matchAll(/<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]*)>/g)) map.set(parseInt(from, 16), utf16(to));
  }
  for (const block of src.matchAll(/beginbfrange([\s\S]*?)endbfrange/g)) {
    for (const [, lo, hi, rest] of block[1].matchAll(/<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*(<[0-9a-fA-F]+>|\[[^\]]*\])/g)) {
      const a = parseInt(lo, 16);
      const b = parseInt(hi, 16);
      if (rest.startsWith('[')) {
        [...rest.matchAll(/<([0-9a-fA-F]+)>/g)].forEach(([, h], i) => map.set(a + i, utf16(h)));
      } else {
        const base = utf16(rest.slice(1, -1));
        for (let c = a; c <= b; c++) map.set(c, base.slice(0, -1) + String.fromCharCode(base.charCodeAt(base.length - 1) + (c - a)));
      }
    }
  }
  return { bytes, map };
}

const ref = (dict: string, key: string) => {
  const m = new RegExp(`/${key}\\s+(\\d+)\\s+0\\s+R`).exec(dict);
  return m ? Number(m[1]) : undefined;
};

/** The inner text of the `<< … >>` that follows `/key`, nesting respected. */
function subDict(dict: string, key: string): string | undefined {
  const at = dict.search(new RegExp(`/${key}\\s*<<`));
  if (at < 0) return undefined;
  let i = dict.indexOf('<<', at);
  const start = i + 2;
  let depth = 0;
  for (; i < dict.length; i++) {
    if (dict.startsWith('<<', i)) {
      depth++;
      i++;
    } else if (dict.startsWith('>>', i)) {
      depth--;
      if (depth === 0) return dict.slice(start, i);
      i++;
    }
  }
  return undefined;
}

function fontsOf(objs: Map<number, PdfObject>, owner: string): Map<string, CMap> {
  const resourcesRef = ref(owner, 'Resources');
  const resources = resourcesRef !== undefined ? objs.get(resourcesRef)?.dict ?? '' : subDict(owner, 'Resources') ?? '';
  const fontRef = ref(resources, 'Font');
  const fontDict = fontRef !== undefined ? objs.get(fontRef)?.dict ?? '' : subDict(resources, 'Font') ?? '';
  const fonts = new Map<string, CMap>();
  for (const [, name, num] of fontDict.matchAll(/\/([^\s/<>[\]()]+)\s+(\d+)\s+0\s+R/g)) {
    const font = objs.get(Number(num));
    const toUnicode = font ? ref(font.dict, 'ToUnicode') : undefined;
    const cmap = toUnicode !== undefined ? objs.get(toUnicode)?.stream : undefined;
    if (cmap) fonts.set(name, parseCMap(cmap.toString('latin1')));
  }
  return fonts;
}

function decode(hex: string, cmap: CMap | undefined): string {
  if (!cmap) return '';
  let s = '';
  const step = cmap.bytes * 2;
  for (let i = 0; i + step <= hex.length; i += step) s += cmap.map.get(parseInt(hex.slice(i, i + step), 16)) ?? '';
  return s;
}

function contentText(content: string, fonts: Map<string, CMap>): string {
  let out = '';
  let font: CMap | undefined;
  const tokens = /\/([^\s/<>[\]()]+)\s+[\d.]+\s+Tf|<([0-9a-fA-F\s]*)>|\bET\b|\bT\*|\bTd\b|\bTD\b/g;
  for (const m of content.matchAll(tokens)) {
    if (m[1] !== undefined) font = fonts.get(m[1]);
    else if (m[2] !== undefined) out += decode(m[2].replace(/\s+/g, ''), font);
    else out += '\n';
  }
  return out;
}

export function readPdfText(pdf: Buffer): string {
  const objs = objects(pdf);
  const parts: string[] = [];
  for (const obj of objs.values()) {
    if (/\/Type\s*\/Page\b/.test(obj.dict)) {
      const fonts = fontsOf(objs, obj.dict);
      const contents = /\/Contents\s*\[([^\]]*)\]/.exec(obj.dict)?.[1] ?? /\/Contents\s+(\d+\s+0\s+R)/.exec(obj.dict)?.[1] ?? '';
      for (const [, num] of contents.matchAll(/(\d+)\s+0\s+R/g)) {
        const stream = objs.get(Number(num))?.stream;
        if (stream) parts.push(contentText(stream.toString('latin1'), fonts));
      }
    } else if (obj.stream && /\/Subtype\s*\/Form/.test(obj.dict)) {
      parts.push(contentText(obj.stream.toString('latin1'), fontsOf(objs, obj.dict)));
    }
  }
  // CJK fonts map some glyphs to Kangxi radicals (⼈ for 人): NFKC folds them back.
  return parts.join('\n').normalize('NFKC');
}
