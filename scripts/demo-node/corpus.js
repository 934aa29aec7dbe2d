// scripts/demo-node/corpus.js -- the demo's deterministic corpus: plain text, Markdown,
// HTML, PDF and DOCX documents of 2-50 KB of text made from a seeded PRNG, and the job plan
// that feeds them to the document handler (text formats some inline {"text"}, some as files
// {"path"}; PDF and DOCX always as files with no "type", found by their content; repeats
// placed so that about a third of the jobs find their result already cached).
//
// The same seed and job count always give the same documents, bytes for bytes, in the
// same order: two runs of the demo are comparable.
'use strict';
const fs = require('fs');
const path = require('path');
const { makePdf, makeDocx } = require('./binary_docs');

// mulberry32: small, fast, good enough for test data; returns floats in [0, 1).
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Words of the generated prose; a few carry non-ASCII UTF-8 on purpose.
const WORDS = (
  'the a of and to in is that for it as with was on be by this are from at or an which ' +
  'queue worker job document chunk redis process server client master pool signal lock ' +
  'retry backoff latency memory socket stream buffer cache result handler parser index ' +
  'river mountain forest village harbour garden winter summer morning evening letter ' +
  'question answer number system method theory history market language picture ' +
  'careful quiet bright early simple heavy narrow gentle sudden ancient modern useful ' +
  'carries reads writes finds keeps holds turns leaves opens builds measures returns ' +
  'quickly slowly rarely often always never nearly almost together apart beyond within ' +
  'café naïve résumé façade Zürich Malmö São Paulo crème brûlée jalapeño smörgåsbord ' +
  'data model engine report review figure table section chapter volume record archive'
).split(/\s+/);

const EXT = { text: 'txt', markdown: 'md', html: 'html', pdf: 'pdf', docx: 'docx' };

function gen(rand) {
  const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = (arr) => arr[Math.floor(rand() * arr.length)];
  const words = (n) => {
    const w = new Array(n);
    for (let i = 0; i < n; i++) w[i] = pick(WORDS);
    return w;
  };
  // Pools of sentences and paragraphs made once, then drawn from: a document is a new
  // sequence of them (distinct bytes, so a distinct SHA-256), at a fraction of the cost of
  // drawing every word.
  const makeSentence = () => {
    const w = words(int(6, 20));
    w[0] = w[0][0].toUpperCase() + w[0].slice(1);
    return w.join(' ') + pick(['.', '.', '.', '?', '!']);
  };
  const SENTENCES = Array.from({ length: 8192 }, makeSentence);
  const sentence = () => pick(SENTENCES);
  const makeParagraph = () => {
    const s = new Array(int(3, 8));
    for (let i = 0; i < s.length; i++) s[i] = sentence();
    return s.join(' ');
  };
  const PARAGRAPHS = Array.from({ length: 2048 }, makeParagraph);
  const paragraph = () => pick(PARAGRAPHS);
  const title = () => {
    const w = words(int(2, 6));
    return w.map((x) => x[0].toUpperCase() + x.slice(1)).join(' ');
  };
  const inlineMd = (p) => {
    const w = p.split(' ');
    for (let i = 0; i < w.length; i += int(6, 14)) {
      const k = int(0, 3);
      if (k === 0) w[i] = `**${w[i]}**`;
      else if (k === 1) w[i] = `*${w[i]}*`;
      else if (k === 2) w[i] = `\`${w[i]}\``;
      else w[i] = `[${w[i]}](https://example.com/${w[i].length}/${i})`;
    }
    return w.join(' ');
  };
  const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const inlineHtml = (p) => {
    const w = esc(p).split(' ');
    for (let i = 0; i < w.length; i += int(6, 14)) {
      const k = int(0, 4);
      if (k === 0) w[i] = `<b>${w[i]}</b>`;
      else if (k === 1) w[i] = `<em>${w[i]}</em>`;
      else if (k === 2) w[i] = `<a href="/x/${i}">${w[i]}</a>`;
      else if (k === 3) w[i] = `${w[i]} &mdash;`;
      else w[i] = `${w[i]}&nbsp;&eacute;t&eacute;`;
    }
    return w.join(' ');
  };

  const MD_PARAGRAPHS = Array.from({ length: 2048 }, () => inlineMd(makeParagraph()));
  const HTML_PARAGRAPHS = Array.from({ length: 2048 }, () => inlineHtml(makeParagraph()));
  const blocks = {
    text: () => paragraph(),
    markdown: () => {
      switch (int(0, 7)) {
        case 0: return `## ${title()}`;
        case 1: return words(int(3, 6)).map((_, i) => `- ${sentence()}`).join('\n');
        case 2: return words(int(2, 5)).map((_, i) => `${i + 1}. ${sentence()}`).join('\n');
        case 3: return `> ${inlineMd(sentence())}\n> ${sentence()}`;
        case 4: return '```\n' + words(int(3, 8)).map((w) => `${w}(x) = ${int(0, 99)};`).join('\n') + '\n```';
        default: return pick(MD_PARAGRAPHS);
      }
    },
    html: () => {
      switch (int(0, 7)) {
        case 0: return `<h2>${esc(title())}</h2>`;
        case 1: return '<ul>' + words(int(3, 6)).map(() => `<li>${inlineHtml(sentence())}</li>`).join('') + '</ul>';
        case 2: return `<script>var n${int(0, 999)} = "${words(4).join(' ')}"; if (n < 3) { go(); }</script>`;
        case 3: return `<div class="c${int(0, 9)}"><p>${pick(HTML_PARAGRAPHS)}</p></div>`;
        case 4: return `<table><tr><td>${esc(sentence())}</td><td>${int(0, 9999)}</td></tr></table>`;
        default: return `<p>${pick(HTML_PARAGRAPHS)}</p>`;
      }
    },
  };
  const open = {
    text: () => title() + '\n\n',
    markdown: () => `# ${title()}\n\n`,
    html: () =>
      '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>' + esc(title()) +
      '</title>\n<style>body { font: 14px serif; } .c1 { color: #333; }</style>\n' +
      '<script>window.analytics = { id: ' + int(0, 1e6) + ' };</script></head>\n<body>\n<h1>' +
      esc(title()) + '</h1>\n',
  };
  const close = { text: () => '\n', markdown: () => '\n', html: () => '\n</body></html>\n' };

  // A PDF or DOCX: a title, sections under level-2 headings, at least `size` bytes of text.
  const binary = (type, size) => {
    const t = title();
    const blocks = [{ heading: 1, text: t }];
    let bytes = 0;
    while (bytes < size) {
      const b = int(0, 5) === 0 ? { heading: 2, text: title() } : { heading: 0, text: paragraph() };
      blocks.push(b);
      bytes += Buffer.byteLength(b.text) + 1;
    }
    const author = title().split(' ')[0];
    return type === 'pdf' ? makePdf(t, author, blocks) : makeDocx(t, author, blocks);
  };

  // One document of the given type, at least `size` bytes of UTF-8 (text formats) or of text
  // inside a PDF or DOCX (a Buffer).
  return (type, size) => {
    if (type === 'pdf' || type === 'docx') return binary(type, size);
    const parts = [open[type]()];
    let bytes = Buffer.byteLength(parts[0]);
    while (bytes < size) {
      const b = blocks[type]() + '\n\n';
      parts.push(b);
      bytes += Buffer.byteLength(b);
    }
    parts.push(close[type]());
    return parts.join('');
  };
}

// plan({jobs, seed, dir, repeatShare}) -> {jobs: [data], stats}
// Writes the documents chosen to travel as files under dir. A repeat is drawn only from
// documents first enqueued at least `lag` jobs earlier, so the first copy is done (and its
// result cached) by the time a worker takes the repeat.
function plan({ jobs, seed = 42, dir, repeatShare = 0.38, fileShare = 0.4 }) {
  const rand = prng(seed);
  const make = gen(rand);
  const types = ['text', 'markdown', 'html', 'pdf', 'docx'];
  const lag = Math.max(8, Math.min(60, Math.floor(jobs / 10)));
  const docs = []; // {data, first}
  const out = [];
  const stats = { jobs, distinct: 0, repeats: 0, files: 0, inline: 0, bytes: 0, text: 0, markdown: 0, html: 0, pdf: 0, docx: 0 };
  let eligible = 0; // docs[0..eligible) were first enqueued at least lag jobs ago
  if (dir) fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < jobs; i++) {
    while (eligible < docs.length && docs[eligible].first <= i - lag) eligible++;
    if (eligible > 0 && rand() < repeatShare) {
      out.push(docs[Math.floor(rand() * eligible)].data);
      stats.repeats++;
      continue;
    }
    const type = types[docs.length % types.length];
    // log-uniform between 2 and 50 KB: mostly small documents, some large
    const size = Math.round(2048 * Math.pow(25, rand()));
    const text = make(type, size);
    let data;
    const binaryType = type === 'pdf' || type === 'docx';
    if (dir && (binaryType || rand() < fileShare)) {
      const file = path.join(dir, `doc-${String(docs.length).padStart(5, '0')}.${EXT[type]}`);
      fs.writeFileSync(file, text);
      data = binaryType ? { path: file } : { path: file, type };
      stats.files++;
    } else {
      data = { text, type };
      stats.inline++;
    }
    stats[type]++;
    stats.bytes += Buffer.isBuffer(text) ? text.length : Buffer.byteLength(text);
    docs.push({ data, first: i });
    out.push(data);
  }
  stats.distinct = docs.length;
  return { jobs: out, stats };
}

module.exports = { plan, prng };
