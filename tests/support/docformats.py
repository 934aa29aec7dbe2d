#!/usr/bin/python3
# docformats.py -- make real documents with real tools at run time and check what bullpen's
# extractors (through tests/support/doc_extract) read from them: the text, its order, each
# page and heading, title, author, encoding, pages without text, and the refusals of
# hostile files with their reasons.
#
#   docformats.py DOC_EXTRACT_BINARY WORKDIR
#
# Generators: ReportLab (PDF: pages, Unicode through DejaVu, two columns, an outline, an
# image-only page), qpdf (encrypted, object streams, damaged), python-docx and pandoc
# (DOCX, ODT, EPUB, PPTX, RTF), openpyxl (XLSX), Python's codecs (UTF-16, windows-1252,
# Latin-1) and zipfile (zip bomb, billion laughs, deep nesting; ODS/ODP written by hand,
# as no small tool writes them). Runs with Debian's python3 (the packages live there).
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib

BIN, WORK = None, None  # set by main() or by a test that imports the generators
failures = []


def extract(path, *args):
    p = subprocess.run([BIN, *args, path], capture_output=True, text=True, timeout=120)
    if p.returncode not in (0, 2) or p.stderr.strip():
        failures.append(f"{os.path.basename(path)}: doc_extract rc={p.returncode} "
                        f"stderr={p.stderr.strip()[:300]}")
        return {"error": "crashed"}
    return json.loads(p.stdout)


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def page_of(doc, off):
    pages = doc["pages"]
    n = 0
    for i, start in enumerate(pages):
        if start <= off:
            n = i + 1
    return n


def word_page(doc, word):
    off = doc["text"].encode().find(word.encode())  # marks are byte offsets
    return page_of(doc, off) if off >= 0 else None


def chunk_with(doc, word):
    return [c for c in doc.get("chunks", []) if word in c["text"]]


def expected_path(doc, off):
    """The heading path at byte offset off, computed here independently of the C code."""
    open_ = {}
    for h in doc["headings"]:
        if h["off"] > off:
            break
        open_ = {lv: t for lv, t in open_.items() if lv < h["level"]}
        open_[h["level"]] = h["title"]
    return [open_[lv] for lv in sorted(open_)]


def check_chunks(doc, name):
    tb = doc["text"].encode()
    prev = -1
    for c in doc.get("chunks", []):
        check(tb[c["offset"]:c["offset"] + c["length"]].decode() == c["text"],
              f"{name}: chunk at {c['offset']} is not the text at its offset")
        check(c["offset"] > prev, f"{name}: chunk offsets do not increase")
        prev = c["offset"]
        check(c["headings"] == expected_path(doc, c["offset"]),
              f"{name}: chunk at {c['offset']} path {c['headings']} != "
              f"{expected_path(doc, c['offset'])}")
        if doc["pages"]:
            check(c["pages"] == [page_of(doc, c["offset"]),
                                 page_of(doc, c["offset"] + c["length"] - 1)],
                  f"{name}: chunk at {c['offset']} pages {c['pages']}")


def p(name):
    return os.path.join(WORK, name)


# ---------------------------------------------------------------- PDF (ReportLab + qpdf)
def tiny_png(path, w=64, h=64):
    raw = b"".join(b"\x00" + bytes([(x * 4) % 256, (y * 4) % 256, 128] * 1)
                   for y in range(h) for x in [0] for _ in [0])
    rows = b"".join(b"\x00" + b"".join(bytes([(x * 4) % 256, (y * 4) % 256, 128])
                                       for x in range(w)) for y in range(h))
    del raw

    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def make_pdf(path, pages_of_filler=0):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("DejaVu", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
    c = canvas.Canvas(path, pagesize=A4)
    c.setTitle("Quarterly Report Ünïcode")
    c.setAuthor("Zoë Ångström")
    W, H = A4
    # page 1: a heading and Unicode text
    c.setFont("DejaVu", 18)
    c.drawString(72, H - 72, "Chapter One")
    c.bookmarkPage("p1")
    c.addOutlineEntry("Chapter One", "p1", level=0)
    c.setFont("DejaVu", 11)
    c.drawString(72, H - 110, "Grüße café naïve Ελληνικά 日本語 pageonemarker")
    c.showPage()
    # page 2: two columns; the left column must be read before the right one
    c.bookmarkPage("p2")
    c.addOutlineEntry("Columns", "p2", level=0)
    c.setFont("DejaVu", 11)
    for i in range(12):
        c.drawString(72, H - 72 - 14 * i, f"leftcol{i} alpha words here")
        c.drawString(W / 2 + 20, H - 72 - 14 * i, f"rightcol{i} beta words there")
    c.showPage()
    # page 3: only an image, no text layer (a scan)
    png = p("scan.png")
    tiny_png(png)
    c.drawImage(png, 72, H - 400, width=300, height=300)
    c.showPage()
    # page 4: a subsection of Columns
    c.bookmarkPage("p4")
    c.addOutlineEntry("Section 2.1", "p4", level=1)
    c.setFont("DejaVu", 14)
    c.drawString(72, H - 72, "Section 2.1")
    c.setFont("DejaVu", 11)
    c.drawString(72, H - 100, "pagefourmarker closing words.")
    c.showPage()
    for i in range(pages_of_filler):
        c.drawString(72, H - 72, f"filler page {i + 5} fillermarker{i + 5}")
        c.showPage()
    c.save()


def test_pdf():
    path = p("report.pdf")
    make_pdf(path)
    d = extract(path, "-c", "12,2")
    if not check("error" not in d, f"report.pdf: {d.get('error')}"):
        return
    check(d["format"] == "pdf", f"pdf format {d['format']}")
    check(len(d["pages"]) == 4, f"pdf pages {d['pages']}")
    check(d["empty_pages"] == [3], f"pdf empty pages {d['empty_pages']}")
    check(d["title"] == "Quarterly Report Ünïcode", f"pdf title {d['title']!r}")
    check(d["author"] == "Zoë Ångström", f"pdf author {d['author']!r}")
    for w in ["Grüße", "café", "naïve", "Ελληνικά", "日本語"]:
        check(word_page(d, w) == 1, f"pdf unicode word {w} on page {word_page(d, w)}")
    check(word_page(d, "pagefourmarker") == 4, "pdf page 4 marker")
    t = d["text"]
    check(t.find("leftcol11") < t.find("rightcol0") and t.find("leftcol0") < t.find("leftcol11"),
          "pdf two columns not in reading order")
    heads = [(h["level"], h["title"], page_of(d, h["off"])) for h in d["headings"]]
    check(heads == [(1, "Chapter One", 1), (1, "Columns", 2), (2, "Section 2.1", 4)],
          f"pdf outline headings {heads}")
    h21 = [h for h in d["headings"] if h["title"] == "Section 2.1"]
    check(h21 and t.encode()[h21[0]["off"]:].startswith(b"Section 2.1"),
          "pdf heading Section 2.1 not placed at its words")
    check_chunks(d, "pdf")
    last = d["chunks"][-1]
    # chunks end where a section starts, so the last one is cited under its own heading
    check(last["pages"] == [4, 4] and last["headings"] == ["Columns", "Section 2.1"] and
          last["text"].startswith("Section 2.1"), f"pdf last chunk {last}")
    c1 = chunk_with(d, "pageonemarker")
    check(c1 and c1[0]["pages"][0] == 1 and c1[0]["headings"] == ["Chapter One"],
          f"pdf first chunk {c1[:1]}")

    # qpdf: object streams (same text), encrypted with a user password (refused clearly),
    # encrypted with only an owner password (readable), damaged (repaired or refused clearly)
    subprocess.run(["qpdf", "--object-streams=generate", path, p("objstm.pdf")], check=True)
    o = extract(p("objstm.pdf"))
    check(o.get("text") == d["text"], "pdf object streams: text differs")
    subprocess.run(["qpdf", "--encrypt", "secret", "owner", "256", "--", path, p("locked.pdf")],
                   check=True)
    e = extract(p("locked.pdf"))
    check("encrypted with a password" in e.get("error", "") and "locked.pdf" in e["error"],
          f"pdf encrypted: {e.get('error')}")
    subprocess.run(["qpdf", "--encrypt", "", "owner", "256", "--", path, p("owner.pdf")],
                   check=True)
    e = extract(p("owner.pdf"))
    check(e.get("text") == d["text"], f"pdf owner-password only: {e.get('error')}")
    raw = open(path, "rb").read()
    bad = raw.replace(b"startxref", b"startxreX").replace(b"xref", b"xreX")
    open(p("damaged.pdf"), "wb").write(bad)
    e = extract(p("damaged.pdf"))
    check(e.get("text") == d["text"] or "damaged" in e.get("error", ""),
          f"pdf damaged xref: {e.get('error')}")
    open(p("truncated.pdf"), "wb").write(raw[:200])
    e = extract(p("truncated.pdf"))
    check("error" in e and "PDF" in e["error"] and "truncated.pdf" in e["error"],
          f"pdf truncated: {e}")
    e = extract(path, "-L", "pages=3")
    check("4 pages, over the limit of 3 (handlers.max_pages)" in e.get("error", ""),
          f"pdf page limit: {e.get('error')}")
    e = extract(path, "-L", "text=100")
    check("over the limit (handlers.max_text_bytes)" in e.get("error", ""),
          f"pdf text limit: {e.get('error')}")
    # content decides, not the name
    os.rename(p("objstm.pdf"), p("objstm.txt"))
    check(extract(p("objstm.txt")).get("format") == "pdf", "pdf named .txt not detected")


# ---------------------------------------------------------------- DOCX, ODT, EPUB, RTF, PPTX
MD = """---
title: The Pandoc Handbook
author: Ada Lovelace
---

# Introduction

Opening words introword here.[^1]

- first item listone
- second item listtwo

| Head A | Head B |
|--------|--------|
| cellA1 | cellB1 |

## Details

Details text detailword.

# Closing

closingword final.

[^1]: The footnote text footnoteword.
"""


def pandoc(src, out, *extra):
    subprocess.run(["pandoc", "-s", src, "-o", out, *extra], check=True, timeout=120)


def check_headings(d, name, want):
    got = [(h["level"], h["title"]) for h in d["headings"]]
    check(got == want, f"{name} headings {got}")


def test_office():
    md = p("handbook.md")
    open(md, "w").write(MD)
    want = [(1, "Introduction"), (2, "Details"), (1, "Closing")]
    for ext in ["docx", "odt", "epub", "rtf"]:
        out = p(f"handbook.{ext}")
        pandoc(md, out)
        d = extract(out, "-c", "6,1")
        if not check("error" not in d, f"{ext}: {d.get('error')}"):
            continue
        t = d["text"]
        check(d["format"] == ext, f"{ext} format {d['format']}")
        for w in ["introword", "listone", "listtwo", "cellA1", "cellB1", "detailword",
                  "closingword", "footnoteword"]:
            check(w in t, f"{ext}: missing {w}")
        check_chunks(d, ext)
        check(t.find("introword") < t.find("listone") < t.find("cellA1") < t.find("detailword")
              < t.find("closingword"), f"{ext}: reading order")
        check(t.find("cellA1") < t.find("cellB1"), f"{ext}: table cell order")
        if ext != "rtf":
            check(d["title"] == "The Pandoc Handbook", f"{ext} title {d['title']!r}")
            check(d["author"] == "Ada Lovelace", f"{ext} author {d['author']!r}")
            # pandoc writes the title as a Title-styled paragraph (DOCX) or an h1 on the
            # title page (EPUB): a heading of level 1 before the others
            hs = ([(1, "The Pandoc Handbook")] if ext in ("docx", "epub") else []) + want
            check_headings(d, ext, hs)
            c = chunk_with(d, "closingword")
            check(c and all(x["headings"] == ["Closing"] for x in c),
                  f"{ext} closing path {c}")
        if ext == "epub":
            check(len(d["pages"]) >= 1, "epub chapters")

    # python-docx: styles, a list, a table, a page break, core properties
    import docx
    doc = docx.Document()
    doc.core_properties.title = "Docx Title"
    doc.core_properties.author = "Grace Hopper"
    doc.add_heading("Overview", level=1)
    doc.add_paragraph("overviewword text.")
    doc.add_paragraph("bulletone", style="List Bullet")
    table = doc.add_table(rows=2, cols=2)
    for r in range(2):
        for c in range(2):
            table.cell(r, c).text = f"cell{r}{c}"
    doc.add_page_break()
    doc.add_heading("Second Page", level=2)
    doc.add_paragraph("secondpageword é ü €.")
    doc.save(p("pydocx.docx"))
    d = extract(p("pydocx.docx"), "-c", "5,1")
    if check("error" not in d, f"pydocx: {d.get('error')}"):
        check(d["title"] == "Docx Title" and d["author"] == "Grace Hopper", "pydocx props")
        check_headings(d, "pydocx", [(1, "Overview"), (2, "Second Page")])
        check(len(d["pages"]) == 2, f"pydocx pages {d['pages']}")
        check(word_page(d, "secondpageword") == 2 and word_page(d, "overviewword") == 1,
              "pydocx page of words")
        check(" ".join(f"cell{r}{c}" for r in range(2) for c in range(2)) in d["text"],
              "pydocx table cells in order")
        check_chunks(d, "pydocx")
        c = chunk_with(d, "secondpageword")
        check(c and c[0]["pages"] == [2, 2] and c[0]["headings"] == ["Overview", "Second Page"],
              f"pydocx chunk {c[:1]}")

    # PPTX from pandoc: a slide per heading, speaker notes
    slides = p("slides.md")
    open(slides, "w").write("""---
title: Deck Title
author: Linus
---

# First Slide

slideoneword text

::: notes
notesword for the speaker
:::

# Second Slide

slidetwoword text
""")
    pandoc(slides, p("slides.pptx"))
    d = extract(p("slides.pptx"), "-c", "4,1")
    if check("error" not in d, f"pptx: {d.get('error')}"):
        check(d["format"] == "pptx", "pptx format")
        s1, s2 = word_page(d, "slideoneword"), word_page(d, "slidetwoword")
        check(s1 is not None and s2 == s1 + 1, f"pptx slide pages {s1} {s2}")
        check(word_page(d, "notesword") == s1, "pptx speaker notes on their slide")
        titles = [h["title"] for h in d["headings"]]
        check("First Slide" in titles and "Second Slide" in titles, f"pptx titles {titles}")
        check(d["title"] == "Deck Title", f"pptx title {d['title']!r}")
        check_chunks(d, "pptx")
        c = chunk_with(d, "slidetwoword")
        check(c and c[0]["pages"] == [s2, s2] and c[0]["headings"] == ["Second Slide"],
              f"pptx chunk {c[:1]}")


def test_xlsx():
    try:
        import openpyxl
    except ImportError:
        failures.append("python3-openpyxl missing: run scripts/deps")
        return
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Budget"
    ws.append(["item", "cost"])
    ws.append(["rentword", 1200])
    ws.append(["foodword", 300.5])
    ws2 = wb.create_sheet("Staff")
    ws2.append(["staffword", True])
    wb.properties.title = "Sheet Title"
    wb.properties.creator = "Ken"
    wb.save(p("book.xlsx"))
    d = extract(p("book.xlsx"), "-c", "4,0")
    if check("error" not in d, f"xlsx: {d.get('error')}"):
        check(len(d["pages"]) == 2, f"xlsx sheets {d['pages']}")
        check(word_page(d, "rentword") == 1 and word_page(d, "staffword") == 2, "xlsx sheets")
        check("rentword 1200 foodword 300.5" in d["text"], f"xlsx cells {d['text']}")
        check([h["title"] for h in d["headings"]] == ["Budget", "Staff"], "xlsx sheet names")
        check(d["title"] == "Sheet Title" and d["author"] == "Ken", "xlsx props")
        check_chunks(d, "xlsx")
        c = chunk_with(d, "staffword")
        check(c and c[0]["pages"] == [2, 2] and c[0]["headings"] == ["Staff"], f"xlsx chunk {c}")


def odf(path, mime, body):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), mime)  # stored, first
        z.writestr("META-INF/manifest.xml", '<?xml version="1.0"?><manifest:manifest '
                   'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>')
        z.writestr("meta.xml", '<?xml version="1.0"?><office:document-meta '
                   'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
                   'xmlns:dc="http://purl.org/dc/elements/1.1/"><office:meta>'
                   '<dc:title>ODF Title</dc:title><dc:creator>Odile</dc:creator>'
                   '</office:meta></office:document-meta>', zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", '<?xml version="1.0"?><office:document-content '
                   'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
                   'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
                   'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
                   'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
                   'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0">'
                   f'<office:body>{body}</office:body></office:document-content>',
                   zipfile.ZIP_DEFLATED)


def test_odf_by_hand():
    odf(p("sheet.ods"), "application/vnd.oasis.opendocument.spreadsheet",
        '<office:spreadsheet><table:table table:name="First">'
        '<table:table-row><table:table-cell><text:p>odsone</text:p></table:table-cell>'
        '<table:table-cell table:number-columns-repeated="1000"><text:p>rep</text:p>'
        '</table:table-cell></table:table-row></table:table>'
        '<table:table table:name="Second"><table:table-row><table:table-cell>'
        '<text:p>odstwo</text:p></table:table-cell></table:table-row></table:table>'
        '</office:spreadsheet>')
    d = extract(p("sheet.ods"))
    if check("error" not in d, f"ods: {d.get('error')}"):
        check(d["format"] == "ods" and len(d["pages"]) == 2, f"ods sheets {d['pages']}")
        check(word_page(d, "odstwo") == 2 and d["text"].count("rep") == 1, "ods pages/repeat")
        check([h["title"] for h in d["headings"]] == ["First", "Second"], "ods sheet names")
        check(d["title"] == "ODF Title" and d["author"] == "Odile", "odf meta")
    # ODT as LibreOffice writes it: text:soft-page-break where it last laid out a page
    odf(p("paged.odt"), "application/vnd.oasis.opendocument.text",
        '<office:text><text:h text:outline-level="1">Part</text:h><text:p>odtpageone</text:p>'
        '<text:soft-page-break/><text:p>odtpagetwo <text:note><text:note-citation>1'
        '</text:note-citation><text:note-body><text:p>odtnote</text:p></text:note-body>'
        '</text:note></text:p></office:text>')
    d = extract(p("paged.odt"))
    if check("error" not in d, f"odt: {d.get('error')}"):
        check(len(d["pages"]) == 2 and word_page(d, "odtpagetwo") == 2, f"odt pages {d}")
        check("odtnote" in d["text"] and " 1 " not in f" {d['text']} ", f"odt note {d['text']}")
    odf(p("deck.odp"), "application/vnd.oasis.opendocument.presentation",
        '<office:presentation><draw:page draw:name="p1"><draw:frame presentation:class="title">'
        '<draw:text-box><text:p>Odp Title One</text:p></draw:text-box></draw:frame>'
        '<draw:frame><draw:text-box><text:p>odpbody1</text:p></draw:text-box></draw:frame>'
        '<presentation:notes><draw:frame><draw:text-box><text:p>odpnotes</text:p>'
        '</draw:text-box></draw:frame></presentation:notes></draw:page>'
        '<draw:page draw:name="p2"/><draw:page draw:name="p3"><draw:frame><draw:text-box>'
        '<text:p>odpbody3</text:p></draw:text-box></draw:frame></draw:page>'
        '</office:presentation>')
    d = extract(p("deck.odp"))
    if check("error" not in d, f"odp: {d.get('error')}"):
        check(len(d["pages"]) == 3 and d["empty_pages"] == [2], f"odp pages {d}")
        check(word_page(d, "odpnotes") == 1 and word_page(d, "odpbody3") == 3, "odp pages")
        check([h["title"] for h in d["headings"]] == ["Odp Title One"], "odp title heading")


# ---------------------------------------------------------------- encodings, HTML
def test_encodings():
    text = "Ünïcödé naïve café – “quoted” ünd Straße € price.\n# not a heading\n"
    cases = [("utf16le_bom.txt", b"\xff\xfe" + text.encode("utf-16-le"), "UTF-16LE"),
             ("utf16be.txt", text.encode("utf-16-be"), "UTF-16BE"),
             ("utf16le.txt", text.encode("utf-16-le"), "UTF-16LE"),
             ("cp1252.txt", text.encode("cp1252"), "windows-1252"),
             ("utf8bom.txt", b"\xef\xbb\xbf" + text.encode(), "UTF-8")]
    want = " ".join(text.split())
    for name, data, enc in cases:
        open(p(name), "wb").write(data)
        d = extract(p(name))
        check(d.get("encoding") == enc, f"{name}: encoding {d.get('encoding')} {d.get('error')}")
        check(d.get("text") == want, f"{name}: text {d.get('text')!r}")
    latin = "Ça coûte très cher, déjà à l'été où ils étaient là. Über Öl. " * 3
    open(p("latin1.txt"), "wb").write(latin.encode("latin-1"))
    d = extract(p("latin1.txt"))
    check(d.get("encoding") == "ISO-8859-1", f"latin1 encoding {d.get('encoding')}")
    check(d.get("text") == " ".join(latin.split()), "latin1 text")
    open(p("page.html"), "w").write("<!DOCTYPE html><html><head><title>T</title></head><body>"
                                    "<h1>Top</h1><p>one</p><h2>Sub</h2><p>two</p></body></html>")
    d = extract(p("page.html"))
    check([(h["level"], h["title"]) for h in d.get("headings", [])] == [(1, "Top"), (2, "Sub")],
          f"html headings {d}")
    os.rename(p("page.html"), p("page.dat"))
    check(extract(p("page.dat")).get("format") == "html", "html by content")
    check(extract(p("page.dat"), "-t", "text").get("format") == "text", "type override")


# ---------------------------------------------------------------- hostile files
DOCX_CT = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
           'content-types"><Override PartName="/word/document.xml" ContentType="application/'
           'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def docx_with(path, document_xml, extra=()):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", DOCX_CT)
        z.writestr("word/document.xml", document_xml)
        for name, data in extra:
            z.writestr(name, data)


def test_hostile():
    # billion laughs: entity declarations are refused before any expansion
    lol = '<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY lol "lol">'
    for i in range(1, 10):
        lol += f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">'
    lol += f']><w:document {W}><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body>' \
           '</w:document>'
    docx_with(p("laughs.docx"), lol)
    e = extract(p("laughs.docx"))
    check("declares entities" in e.get("error", "") and "laughs.docx" in e["error"],
          f"billion laughs: {e}")
    # zip bomb: 64 MiB of spaces in one entry deflates ~1000:1
    with zipfile.ZipFile(p("bomb.docx"), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", DOCX_CT)
        with z.open("word/document.xml", "w") as f:
            f.write(f'<?xml version="1.0"?><w:document {W}><w:body><w:p><w:r><w:t>'.encode())
            block = b" " * (1 << 20)
            for _ in range(64):
                f.write(block)
            f.write(b"</w:t></w:r></w:p></w:body></w:document>")
    e = extract(p("bomb.docx"))
    check("zip bomb" in e.get("error", "") and "handlers.max_zip_ratio" in e["error"]
          and "DOCX" in e["error"], f"zip bomb: {e}")
    # entry count
    docx_with(p("many.docx"), f'<w:document {W}/>', [(f"x/{i}", "x") for i in range(50)])
    e = extract(p("many.docx"), "-L", "entries=20")
    check("entries, over the limit of 20 (handlers.max_zip_entries)" in e.get("error", ""),
          f"zip entries: {e}")
    # nesting depth
    deep = f'<w:document {W}><w:body>' + "<w:sdt>" * 400 + "</w:sdt>" * 400 + \
        "</w:body></w:document>"
    docx_with(p("deep.docx"), deep)
    e = extract(p("deep.docx"), "-L", "depth=100")
    check("nests deeper than 100" in e.get("error", ""), f"depth: {e}")
    # malformed XML: a clear reason with the part
    docx_with(p("broken.docx"), f'<w:document {W}><w:body><w:p>')
    e = extract(p("broken.docx"))
    check("word/document.xml" in e.get("error", "") and "malformed" in e["error"],
          f"malformed xml: {e}")
    # not a zip we know
    with zipfile.ZipFile(p("plain.zip"), "w") as z:
        z.writestr("a.txt", "hello")
    e = extract(p("plain.zip"))
    check("unsupported kind" in e.get("error", ""), f"unknown zip: {e}")
    # RTF nesting
    open(p("deep.rtf"), "w").write("{\\rtf1 " + "{" * 5000 + "x" + "}" * 5000 + "}")
    e = extract(p("deep.rtf"))
    check("nests groups deeper than" in e.get("error", ""), f"rtf depth: {e}")
    # random bytes do not crash and come back as some text or a reason
    # binary data is refused rather than chunked as garbage; a legacy .doc says what to do
    open(p("noise.bin"), "wb").write(os.urandom(4096))
    e = extract(p("noise.bin"))
    check("binary data of an unknown format" in e.get("error", "") or "text" in e,
          f"noise: {e.get('error')}")
    open(p("old.doc"), "wb").write(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500))
    e = extract(p("old.doc"))
    check("legacy Office document" in e.get("error", "") and "save it as DOCX" in e["error"],
          f"legacy doc: {e}")
    e = extract(p("scan.png"))
    check("is a PNG image: not a format bullpen reads" in e.get("error", ""), f"png: {e}")


def make_queue_files(work):
    """The files test_docqueue.sh feeds through a real queue."""
    global WORK
    WORK = work
    make_pdf(p("report.pdf"))
    subprocess.run(["qpdf", "--encrypt", "secret", "owner", "256", "--", p("report.pdf"),
                    p("locked.pdf")], check=True)
    open(p("handbook.md"), "w").write(MD)
    pandoc(p("handbook.md"), p("handbook.docx"))
    with zipfile.ZipFile(p("bomb.docx"), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", DOCX_CT)
        with z.open("word/document.xml", "w") as f:
            f.write(f'<w:document {W}><w:body><w:p><w:r><w:t>'.encode())
            for _ in range(16):
                f.write(b" " * (1 << 20))
            f.write(b"</w:t></w:r></w:p></w:body></w:document>")


def make_fuzz_seeds(bin_, work, out_extract, out_decode):
    """Small real files for fuzz_doc_extract (byte 0 = 0: detect the format) and their
    encoded extraction results for fuzz_doc_decode."""
    global WORK, BIN
    WORK, BIN = work, bin_
    make_pdf(p("seed.pdf"))
    open(p("seed.md"), "w").write(MD)
    for ext in ["docx", "odt", "epub", "rtf", "pptx"]:
        pandoc(p("seed.md"), p(f"seed.{ext}"))
    try:
        import openpyxl
        wb = openpyxl.Workbook()
        wb.active.append(["a", 1, True])
        wb.save(p("seed.xlsx"))
    except ImportError:
        pass
    open(p("seed.txt"), "wb").write("Grüße € ü\n".encode("utf-16"))
    odf(p("seed.ods"), "application/vnd.oasis.opendocument.spreadsheet",
        '<office:spreadsheet><table:table table:name="S"><table:table-row><table:table-cell>'
        '<text:p>x</text:p></table:table-cell></table:table-row></table:table>'
        '</office:spreadsheet>')
    for name in sorted(os.listdir(work)):
        if not name.startswith("seed.") or name.endswith(".png"):
            continue
        data = open(p(name), "rb").read()
        if len(data) > 60000:
            continue  # libFuzzer's -max_len
        open(os.path.join(out_extract, name), "wb").write(b"\x00" + data)
        subprocess.run([bin_, "-q", "-E", os.path.join(out_decode, name + ".bpdoc"), p(name)],
                       capture_output=True)


def main():
    global BIN, WORK
    BIN, WORK = sys.argv[1], sys.argv[2]
    for t in [test_pdf, test_office, test_xlsx, test_odf_by_hand, test_encodings,
              test_hostile]:
        try:
            t()
        except Exception as ex:  # a generator failing is a test failure, with its reason
            failures.append(f"{t.__name__}: {type(ex).__name__}: {ex}")
    for f in failures:
        print("FAIL:", f)
    print(f"docformats: {len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--queue-files":
        make_queue_files(sys.argv[2])
    elif len(sys.argv) == 6 and sys.argv[1] == "--fuzz-seeds":
        make_fuzz_seeds(*sys.argv[2:])
    else:
        main()
