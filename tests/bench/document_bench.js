// document_bench.js -- the seed application's document work done in Node, for comparison
// with document_bench.c: JSON.parse of the job data, text extraction (plain text: white
// space normalised; Markdown and HTML: the usual regular-expression stripping, simpler than
// bullpen's libxml2 parser and Markdown scanner), chunking into 200 words with 40 overlapping,
// cutting at a sentence end in the last fifth, SHA-256 of the input, and the chunks
// serialised as a Redis command would carry them. CPU time, like the C bench.
//
//   node document_bench.js [DOCS] [BYTES]      (default 2000 documents of 100 KB)
'use strict';
const crypto = require('crypto');

const WORDS = ['the', 'queue', 'worker', 'processes', 'documents', 'quickly', 'and', 'stores',
  'chunks', 'in', 'redis', 'über', 'naïve', '中文', 'data', 'results'];

function genDoc(bytes, flavour, seed) {
  let rng = (seed * 2654435761 + 1) >>> 0;
  const out = [];
  let len = 0;
  let inPara = false;
  while (len + 64 < bytes) {
    rng = (Math.imul(rng, 1103515245) + 12345) >>> 0;
    const w = WORDS[(rng >>> 16) % 16];
    let piece = '';
    if (!inPara) {
      if (flavour === 'html') piece += `<p class="c${rng % 7}">`;
      else if (flavour === 'markdown') piece += rng % 3 ? '' : '## ';
      inPara = true;
    }
    if (flavour === 'markdown' && rng % 11 === 0) piece += `**${w}** `;
    else if (flavour === 'html' && rng % 11 === 0) piece += `<a href="/x/${rng % 100}">${w}</a> `;
    else piece += w + (rng % 13 === 0 ? '. ' : ' ');
    if (rng % 97 === 0) {
      piece += flavour === 'html' ? '</p>\n' : '.\n\n';
      inPara = false;
    }
    out.push(piece);
    len += Buffer.byteLength(piece);
  }
  return out.join('');
}

function extract(text, type) {
  if (type === 'html') {
    text = text.replace(/<(script|style|noscript|template|head)\b[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<\/?(p|div|br|li|h[1-6]|tr|td|th|table|ul|ol)\b[^>]*>/gi, ' ')
      .replace(/<[^>]*>/g, '')
      .replace(/&nbsp;/g, ' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"').replace(/&amp;/g, '&');
  } else if (type === 'markdown') {
    text = text.replace(/^\s{0,3}(#{1,6}|>|[-*+]|\d+[.)])\s+/gm, '')
      .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/(\*\*|__|~~|`)/g, '')
      .replace(/<[^>]*>/g, '');
  }
  return text.split(/\s+/).filter((w) => w.length > 0);
}

function chunk(words, size, overlap) {
  const chunks = [];
  const minCut = Math.max(size - Math.floor(size / 5), overlap + 1);
  let start = 0;
  while (start < words.length) {
    if (words.length - start <= size) {
      chunks.push(words.slice(start).join(' '));
      break;
    }
    let cut = size;
    for (let k = size; k >= minCut; k--) {
      if (/[.!?]["')\]]*$/.test(words[start + k - 1])) {
        cut = k;
        break;
      }
    }
    chunks.push(words.slice(start, start + cut).join(' '));
    start += cut - overlap;
  }
  return chunks;
}

function runOne(data) {
  const job = JSON.parse(data);
  const input = Buffer.from(job.text, 'utf8');
  const sha = crypto.createHash('sha256').update(input).digest('hex');
  const words = extract(job.text, job.type);
  const chunks = chunk(words, 200, 40);
  // what ioredis would send: RESP bulk strings
  let bytes = 0;
  for (const c of chunks) bytes += Buffer.byteLength(c) + 16;
  return { sha256: sha, bytes: input.length, words: words.length, chunks: chunks.length, sent: bytes };
}

const docs = Number(process.argv[2] || 2000);
const size = Number(process.argv[3] || 100 * 1024);
console.log(`node ${process.version}, same work in JavaScript (${docs} documents of ${size} bytes, CPU time)`);
for (const flavour of ['text', 'markdown', 'html']) {
  let cpu = 0;
  for (let i = 0; i < docs; i++) {
    const data = JSON.stringify({ type: flavour, text: genDoc(size, flavour, i) });
    const t0 = process.cpuUsage();
    runOne(data);
    const d = process.cpuUsage(t0);
    cpu += (d.user + d.system) / 1e6;
  }
  console.log(`  ${flavour.padEnd(8)} ${(docs / cpu).toFixed(0).padStart(8)} documents/s  ` +
    `${((docs * size) / cpu / 1e6).toFixed(1).padStart(7)} MB/s`);
}
