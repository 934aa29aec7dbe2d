// extract.js -- what a Node worker of the same queue runs to get the text of uploads:
// pdf-parse 1.1.1 (pdf) or 2.4.5 (pdf2) for PDF, mammoth 1.13 for DOCX (versions pinned in
// package-lock.json).
// One process reads the files one after the other, as one worker would, and prints one
// JSON line: files, pages (PDF), words, bytes, CPU seconds (user + system, so the figures
// hold on a loaded machine), and the process's peak RSS in KiB.
//
//   node extract.js pdf|pdf2|docx FILE...
'use strict';
const fs = require('fs');

async function main() {
  const [kind, ...files] = process.argv.slice(2);
  // lib/pdf-parse.js: the package's index runs a self-test when it is not required by a
  // module, which would read a file that is not there
  const pdf = kind === 'pdf' ? require('pdf-parse/lib/pdf-parse.js') : null;
  const mammoth = kind === 'docx' ? require('mammoth') : null;
  const PDFParse = kind === 'pdf2' ? require('pdf-parse-2').PDFParse : null;
  let pages = 0, words = 0, bytes = 0, cpu = 0;
  for (const f of files) {
    const buf = fs.readFileSync(f);
    bytes += buf.length;
    const t0 = process.cpuUsage();
    let text;
    if (pdf) {
      const r = await pdf(buf);
      pages += r.numpages;
      text = r.text;
    } else if (PDFParse) {
      const parser = new PDFParse({ data: new Uint8Array(buf) });
      const r = await parser.getText();
      await parser.destroy();
      pages += r.total;
      text = r.text;
    } else {
      text = (await mammoth.extractRawText({ buffer: buf })).value;
    }
    const t = process.cpuUsage(t0);
    cpu += (t.user + t.system) / 1e6;
    words += text.split(/\s+/).filter(Boolean).length;
  }
  console.log(JSON.stringify({ files: files.length, pages, words, bytes, cpu_s: cpu,
    maxrss_kb: process.resourceUsage().maxRSS }));
}
main().catch((e) => { console.error(e); process.exit(1); });
