"""OCR speed in pages per second, and how much of the drawn text comes back.

Draws N A4 pages at 300 dpi (2480 x 3508, grayscale), each with about 300 words of running text in Pillow's
scalable default font at 42 px (about 10 pt at 300 dpi), and reads them through the product's own code path,
`index.loaders.extract(path, bytes)` (what the indexing worker calls):

  (a) each page as a PNG file: Pillow decodes it, index/ocr.py hands it to Tesseract;
  (b) all pages in one image-only PDF (fpdf2, one full-page image a page): pdfium finds no text layer,
      draws each page at 300 dpi, Tesseract reads it;
  (c) the same pages made scan-like (turned 0.8 degrees, blurred, speckled with noise), as PNG files.

Tesseract alone on the same PNG files (`tesseract FILE stdout --psm 3 -l eng`, OMP_THREAD_LIMIT=1, as the
product runs it) is timed too, as the floor. Each figure is the median of --runs runs. Word accuracy: the
drawn words, lower-cased without punctuation, against the OCR output's, by difflib.SequenceMatcher on the
word lists: the share of drawn words found, in order.

    .venv/bin/python benchmarks/ocr_speed.py                  # 10 pages, 3 runs
    .venv/bin/python benchmarks/ocr_speed.py --pages 4 --runs 1 --no-baseline
"""

from __future__ import annotations

import argparse
import difflib
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_line  # benchmarks/machine.py: this folder is on the path when run as a script

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from index.loaders import extract  # noqa: E402
from index.records import PAGE_BREAK  # noqa: E402

WIDTH, HEIGHT = 2480, 3508  # A4 at 300 dpi
MARGIN = 236  # 2 cm
FONT_SIZE = 42

# Sentences of a made-up regional newspaper: names, figures, dates and punctuation, as in real documents.
SENTENCES = """The harbour board of Veltria met on Tuesday to approve a budget of 4.2 million crowns for the new crane terminal.
Work on the northern breakwater, delayed by two winter storms, is now expected to finish in late September.
Dock workers voted by 312 to 87 to accept a three-year wage deal, ending a dispute that began in March.
The ferry to Saltholm will run every forty minutes during the summer, up from once an hour.
Councillor Ingrid Halvard said the town could not afford another year of closed roads and empty shops.
A survey of 1,450 residents found that most would pay a small fee to keep the public library open on Sundays.
The museum's new wing, designed by the Oslo firm Brekke & Lund, opens to visitors on 14 June.
Its first exhibition shows maps of the coast drawn between 1720 and 1890, many of them never displayed before.
Farmers in the valley reported the wettest spring in thirty years, with rainfall of 412 millimetres since February.
The regional hospital has hired nine nurses and two surgeons, but says it still needs more staff for its night shifts.
Police are asking drivers to avoid the old bridge while engineers inspect cracks found in two of its supports.
The school in Oskarby will add a science laboratory after a local company donated equipment worth 600,000 crowns.
Tickets for the autumn music festival sold out within three hours, a record for the event.
The orchestra will play works by Grieg, Sibelius and Nielsen, conducted by the young Finnish conductor Aino Vesterinen.
Fishermen say the cod catch this year is the lowest since 1998, and blame warmer water in the fjord.
Scientists from the university will tag two hundred fish to learn where the shoals have moved.
A new bus route will link the railway station with the hospital, the market square and the western estates.
The bakery on Harbour Street, founded in 1958, sells about 900 loaves of rye bread every Saturday morning.
Its owner, Petra Lindqvist, plans to open a second shop near the university before Christmas.
Shipping traffic through the port rose by eight per cent last year, led by timber, salmon and machinery.
The environmental agency warned that plastic waste on the beaches has doubled since the last count in 2019.
Volunteers collected more than two tonnes of rubbish in a single weekend along the southern shore.
The town's football club, promoted in May, will play its first home match of the season against Ravnsborg.
Repairs to the church roof, which leaked during the October storms, will cost an estimated 1.3 million crowns.
A plan to build 240 homes on the former shipyard site drew both praise and angry questions at a public meeting.
Opponents fear the project will block views of the harbour and bring heavy traffic to narrow streets.
The developer, Nordkyst Housing, says a third of the flats will be let at rents families can afford.
Electricity prices in the region fell in August as the new wind farm off Kettering Point began to supply the grid.
The farm's twenty-two turbines can power about 60,000 homes when the wind is strong.
The library will lend tablets, fishing rods and sewing machines as well as books from next month.""".splitlines()


def page_text(page: int, words: int = 300) -> str:
    """About `words` words of sentences, in an order of this page's own."""
    order = random.Random(page).sample(SENTENCES, len(SENTENCES))
    chosen, count = [], 0
    for sentence in order:
        if count >= words:
            break
        chosen.append(sentence)
        count += len(sentence.split())
    return " ".join(chosen)


def draw_page(text: str):
    """The text set in lines that fit the page, paragraph-like, black on white."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=FONT_SIZE)
    image = Image.new("L", (WIDTH, HEIGHT), 255)
    draw = ImageDraw.Draw(image)
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if draw.textlength(trial, font=font) > WIDTH - 2 * MARGIN:
            lines.append(line)
            line = word
        else:
            line = trial
    lines.append(line)
    step = int(FONT_SIZE * 1.45)
    for number, line in enumerate(lines):
        draw.text((MARGIN, MARGIN + number * step), line, fill=0, font=font)
    return image


def scan_like(image, seed: int):
    """A page as a flatbed scan might give it: slightly turned, softened, with grey speckle."""
    import numpy as np
    from PIL import Image, ImageFilter

    turned = image.rotate(0.8 if seed % 2 else -0.8, resample=Image.BICUBIC, fillcolor=255)
    soft = np.asarray(turned.filter(ImageFilter.GaussianBlur(1.2)), dtype=np.float32)
    noisy = soft + np.random.default_rng(seed).normal(0, 24, soft.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), mode="L")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("&", " and "))


def accuracy(drawn: str, read: str) -> float:
    """Share of the drawn words found, in order, in the OCR output."""
    expected, got = words(drawn), words(read)
    matcher = difflib.SequenceMatcher(None, expected, got, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(expected)


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def tesseract_alone(path: Path) -> str:
    done = subprocess.run([shutil.which("tesseract"), str(path), "stdout", "--psm", "3", "-l", "eng"],
                          capture_output=True, check=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    return done.stdout.decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-baseline", action="store_true", help="do not time Tesseract alone")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    from fpdf import FPDF
    from PIL import __version__ as pillow_version

    version = subprocess.run([shutil.which("tesseract"), "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    texts = [page_text(n) for n in range(args.pages)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pngs, scans = [], []
        pdf = FPDF(unit="pt", format=(595.28, 841.89))
        for number, text in enumerate(texts, 1):
            path = folder / f"page-{number:02d}.png"
            draw_page(text).save(path, dpi=(300, 300))
            pngs.append(path)
            pdf.add_page()
            pdf.image(str(path), x=0, y=0, w=595.28, h=841.89)
            scan = folder / f"scan-{number:02d}.png"
            scan_like(draw_page(text), number).save(scan, dpi=(300, 300))
            scans.append(scan)
        scanned = folder / "scanned.pdf"
        pdf.output(str(scanned))
        sizes = {"png": sum(p.stat().st_size for p in pngs), "pdf": scanned.stat().st_size}

        runs: dict[str, list[float]] = {"png": [], "pdf": [], "scan": [], "alone": []}
        outputs: dict[str, list[str]] = {}
        for run in range(args.runs):
            seconds, results = 0.0, []
            for path in pngs:
                took, extracted = timed(extract, str(path), path.read_bytes())
                seconds += took
                results.append(extracted.text)
            runs["png"].append(seconds)
            outputs["png"] = results
            took, extracted = timed(extract, str(scanned), scanned.read_bytes())
            assert extracted.ocr_pages == args.pages, extracted.ocr_pages
            runs["pdf"].append(took)
            outputs["pdf"] = extracted.text.split(PAGE_BREAK)[:args.pages]
            seconds, results = 0.0, []
            for path in scans:
                took, extracted = timed(extract, str(path), path.read_bytes())
                seconds += took
                results.append(extracted.text)
            runs["scan"].append(seconds)
            outputs["scan"] = results
            if not args.no_baseline:
                seconds, results = 0.0, []
                for path in pngs:
                    took, text = timed(tesseract_alone, path)
                    seconds += took
                    results.append(text)
                runs["alone"].append(seconds)
                outputs["alone"] = results
            print(f"  run {run + 1}: " + ", ".join(f"{k} {args.pages / v[-1]:.3f} pages/s" for k, v in runs.items() if v),
                  file=sys.stderr, flush=True)

    lines = ["# OCR speed", ""]
    lines += [f"Machine: {cpu_line()}; {version}, Pillow {pillow_version}, Python {platform.python_version()}. "
              "The machine is shared with other work while measured: figures are medians of "
              f"{args.runs} runs and still noisy.", ""]
    lines += ["Command: `.venv/bin/python benchmarks/ocr_speed.py"
              + (f" --pages {args.pages}" if args.pages != 10 else "")
              + (f" --runs {args.runs}" if args.runs != 3 else "")
              + (" --no-baseline" if args.no_baseline else "") + "`", ""]
    lines += [f"{args.pages} A4 pages at 300 dpi ({WIDTH} x {HEIGHT}, grayscale), "
              f"{statistics.mean(len(t.split()) for t in texts):.0f} words each on average, Pillow's default font "
              f"at {FONT_SIZE} px (about 10 pt). PNGs {sizes['png'] / 1e6:.1f} MB in all; the image-only PDF "
              f"{sizes['pdf'] / 1e6:.1f} MB.", ""]
    lines += ["| input | code path | pages/s (median) | s/page | runs (pages/s) | word accuracy |",
              "| --- | --- | --- | --- | --- | --- |"]
    labels = {"png": ("PNG files", "`index.loaders.extract` (Pillow, then Tesseract)"),
              "pdf": ("image-only PDF", "`index.loaders.extract` (pdfium draws at 300 dpi, then Tesseract)"),
              "scan": ("scan-like PNG files (turned 0.8°, blurred, speckled)", "`index.loaders.extract`"),
              "alone": ("PNG files", "Tesseract alone, `tesseract FILE stdout --psm 3 -l eng` (the floor)")}
    for key, (what, how) in labels.items():
        if not runs[key]:
            continue
        median = statistics.median(runs[key])
        scores = [accuracy(drawn, read) for drawn, read in zip(texts, outputs[key])]
        lines += [f"| {what} | {how} | **{args.pages / median:.3f}** | {median / args.pages:.2f} | "
                  + ", ".join(f"{args.pages / s:.3f}" for s in runs[key])
                  + f" | {statistics.mean(scores):.1%} (worst page {min(scores):.1%}) |"]
    lines += [""]
    for key, (what, _) in labels.items():
        if not runs[key]:
            continue
        scores = [accuracy(drawn, read) for drawn, read in zip(texts, outputs[key])]
        worst = min(range(args.pages), key=lambda n: scores[n])
        if scores[worst] == 1.0:
            continue
        expected, got = words(texts[worst]), words(outputs[key][worst])
        matcher = difflib.SequenceMatcher(None, expected, got, autojunk=False)
        misses = [(" ".join(expected[a1:a2]), " ".join(got[b1:b2])) for tag, a1, a2, b1, b2 in matcher.get_opcodes()
                  if tag != "equal"]
        lines += [f"Differences on the worst page of the {what} (page {worst + 1}, {scores[worst]:.1%}), drawn → read: "
                  + "; ".join(f"\"{a}\" → \"{b}\"" for a, b in misses[:12]) + ".", ""]
    lines += ["Tesseract runs with OMP_THREAD_LIMIT=1 (as index/ocr.py runs it), so one page uses one core.", ""]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")


if __name__ == "__main__":
    main()
