#!/usr/bin/python3
"""`fovea report` in a real browser (issue 21): the page is opened by headless Chromium with the
network shut off; it must draw every section with the run's own numbers and no console error,
and its screenshot must show charts. Then the runs a user really has: interrupted, half-written,
cut short, without data, without anything; and a comparison of two runs.

Usage: /usr/bin/python3 tests/report/report_page.py --fovea build/fovea --work build/report_page
"""
import argparse
import html.parser
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
from PIL import Image

SECTIONS = ["run", "curves", "network", "results", "explanations", "filters"]
CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")
# the page may not reach anything: no host resolves and every request goes to a closed port
OFFLINE = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
           "--proxy-bypass-list=<-loopback>"]
failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    return r.returncode, r.stdout, r.stderr


def browser(page, *flags):
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr",
            "--v=0", "--virtual-time-budget=8000", *OFFLINE]
    return run(base + list(flags) + ["file://" + os.path.abspath(page)], timeout=120)


class Dom(html.parser.HTMLParser):
    """Every section's text and the elements in it; the tags and attributes of the whole page."""

    def __init__(self):
        super().__init__()
        self.stack, self.sections, self.elements, self.text = [], {}, [], {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a, [s for s, _ in self.stack]))
        if tag in ("img", "br", "meta", "input", "link", "circle", "rect", "line", "image", "path", "hr"):
            return
        sec = a.get("id") if "data-section" in a else ("table:" + a["data-table"]) if "data-table" in a else None
        self.stack.append((sec, tag))
        if sec:
            self.sections[sec] = a.get("data-section", "table")
            self.text[sec] = []

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][1] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        for sec, _ in self.stack:
            if sec:
                self.text[sec].append(data)

    def section_text(self, sec):
        return " ".join(" ".join(self.text.get(sec, [])).split())

    def inside(self, sec, tag, **attrs):
        return [a for t, a, secs in self.elements
                if t == tag and sec in secs and all(a.get(k) == v for k, v in attrs.items())]


def load(page, expect_errors=False):
    """The page after its scripts ran: (Dom, the console lines Chromium printed)."""
    rc, out, err = browser(page, "--dump-dom")
    check(rc == 0 and "<main" in out, f"{os.path.basename(page)}: Chromium loaded it (rc {rc})")
    console = [l for l in err.splitlines() if ":CONSOLE" in l or "Uncaught" in l]
    if not expect_errors:
        check(not console, f"{os.path.basename(page)}: no console messages: {console[:3]}")
    d = Dom()
    d.feed(out)
    body = [a for t, a, _ in d.elements if t == "body"]
    check(body and body[0].get("data-rendered") == "ok", f"{os.path.basename(page)}: drawn without errors "
          f"(data-rendered={body[0].get('data-rendered') if body else None}, data-errors={body[0].get('data-errors') if body else None})")
    srcs = [a.get("src", "") for t, a, _ in d.elements if t in ("img", "script")] + \
           [a.get("href", "") for t, a, _ in d.elements if t in ("image", "link")]
    check(all(s == "" or s.startswith("data:") for s in srcs), f"{os.path.basename(page)}: every image and script is inlined")
    return d


def static_checks(page):
    text = open(page, encoding="utf-8").read()
    check(not re.search(r"<(script|img|link)[^>]+(src|href)=[\"']?(https?:|//)", text, re.I),
          f"{os.path.basename(page)}: no script, image or style is fetched from the network")
    return text


def pct(x):
    return f"{100 * x:.2f}%"


def train(fovea, out, *extra):
    return run([fovea, "train", "--model", "lenet5", "--limit-train", "600", "--limit-test", "200", "--batch-size", "32",
                "--seed", "0", "--quiet", "--out", out, *extra])


def make_folder(root, rng):
    """Two classes of 28x28 RGB images: a bright square on the left or on the right."""
    for k, name in enumerate(["left", "right"]):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(20):
            img = rng.integers(0, 50, (28, 28, 3), dtype=np.uint8)
            x = 3 if k == 0 else 16
            img[9:19, x:x + 9] = (220, 180, 40)
            Image.fromarray(img).save(os.path.join(root, name, f"{i:02d}.png"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fovea", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    fovea = os.path.abspath(a.fovea)
    if CHROMIUM is None:
        print("chromium-headless-shell is not installed (make deps installs it)")
        return 1
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    os.chdir(a.work)

    # --- a complete run, written by train --report, then by fovea report ---
    rc, out, err = train(fovea, "runA", "--epochs", "2", "--report")
    check(rc == 0, f"train --report ran (rc {rc}) {err[-300:]}")
    check("report: runA/report.html" in out, "train --report prints the report's path")
    metrics = json.load(open("runA/metrics.json"))
    best = max(e["test_accuracy"] for e in metrics["epochs"])
    first = open("runA/report.html", encoding="utf-8").read()
    check('"in_progress":false' in first, "the page written after the last epoch does not say 'in progress'")
    rc, out, err = run([fovea, "report", "runA"])
    check(rc == 0 and "wrote runA/report.html" in out, f"fovea report runA: {out.strip()} {err.strip()}")
    text = static_checks("runA/report.html")
    check("{{" not in text.split("<script>")[0], "the template's slots are all filled")
    d = load("runA/report.html")
    for s in SECTIONS:
        check(d.sections.get(f"r0-{s}") == s, f"section '{s}' is in the page")
    runtext = d.section_text("r0-run")
    check(pct(best) in runtext, f"the run section shows the best test top-1 {pct(best)}")
    check(metrics["commands"][0] in runtext, "the run section shows the command line")
    check(metrics["machine"]["cpu"] in runtext and "1×28×28" in runtext, "the machine and the input size are shown")
    check("complete: 2 of 2 epochs" in runtext, "the status says the run is complete")
    net = d.section_text("r0-network")
    check("61,706" in net and "features.3" in net, "the network section shows LeNet-5's 61,706 parameters and layers")
    check(len(d.inside("r0-network", "svg")) >= 2, "the diagram and the receptive-field figure are drawn")
    rf = [a for a in d.inside("r0-network", "svg") if "data-rf-layer" in a]
    check(rf and rf[0]["data-rf-layer"] == "features.5", f"the receptive field is drawn for features.5 ({rf})")
    res = d.section_text("r0-results")
    check(f"{pct(best)} test top-1" in res, "the checkpoint scored here gives the best epoch's top-1 again")
    cells = d.inside("table:confusion", "td")
    check(len(cells) == 100, f"the confusion matrix has 10x10 cells ({len(cells)})")
    check(len(d.inside("r0-results", "img")) == 12, "the 12 most confident mistakes are shown")
    for c in metrics["config"]["classes"]:
        check(c in res, f"class '{c}' is named in the results")
    check(len(d.inside("r0-explanations", "img")) == 20 * 5, "2 test images per class with 4 maps each are explained")
    faithful = d.inside("table:faithfulness", "tr")
    check(len(faithful) == 1 + 4 + 1, f"the faithfulness table has the 4 methods and the random map ({len(faithful)} rows)")
    check("deletion AUC" in d.section_text("r0-explanations") and "random (chance)" in d.section_text("r0-explanations"),
          "the faithfulness table is explained and has its random row")
    check(len(d.inside("r0-filters", "img")) == 6 + 1 + 6, "LeNet-5's 6 first-layer filters and 6 feature maps")
    charts = len(d.inside("r0-curves", "canvas")) + len(d.inside("r0-results", "canvas"))
    check(charts == 5, f"Chart.js drew 5 charts ({charts})")

    rc, _, err = browser("runA/report.html", "--window-size=1280,2600", "--screenshot=" + os.path.abspath("shot.png"))
    check(rc == 0 and os.path.exists("shot.png"), "the screenshot was taken")
    img = np.asarray(Image.open("shot.png").convert("RGB")).astype(np.int32)
    grey = img.mean(axis=2)
    not_white = (grey < 245).mean()
    blue = (np.abs(img - [31, 119, 180]).sum(axis=2) < 30).sum()  # the charts' first colour
    red = (np.abs(img - [214, 39, 40]).sum(axis=2) < 30).sum()
    colours = len(np.unique(img.reshape(-1, 3)[::7], axis=0))
    print(f"      screenshot: {not_white:.1%} not white, grey std {grey.std():.1f}, {colours} colours, "
          f"{blue} chart-blue and {red} chart-red pixels")
    check(0.08 < not_white < 0.9 and grey.std() > 25, "the screenshot is neither blank nor flat")
    check(blue > 300 and red > 300 and colours > 100, "the screenshot shows the charts' lines")

    # --- interrupted: SIGINT after the first epoch's page, then the page of what is there ---
    p = subprocess.Popen([fovea, "train", "--model", "lenet5", "--limit-train", "20000", "--limit-test", "200",
                          "--epochs", "6", "--quiet", "--report", "--out", "runB"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not os.path.exists("runB/report.html") and p.poll() is None and time.time() - t0 < 120:
        time.sleep(0.02)
    during = open("runB/report.html", encoding="utf-8").read() if os.path.exists("runB/report.html") else ""
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    check(p.returncode == 130 and "interrupted" in out, f"train stopped by SIGINT (rc {p.returncode})")
    check('"in_progress":true' in during, "the page written during training says the run is in progress")
    rc, out, err = run([fovea, "report", "runB"])
    check(rc == 0, f"fovea report of an interrupted run: {err.strip()}")
    d = load("runB/report.html")
    check("stopped after" in d.section_text("r0-run") and "of 6 epochs" in d.section_text("r0-run")
          and "--resume --out runB" in d.section_text("r0-run"), "the page says where the run stopped and how to resume")

    # --- half-written and damaged runs: a page that says what is missing ---
    os.makedirs("half")
    shutil.copy("runA/last.safetensors", "half/")
    os.makedirs("cut")
    shutil.copy("runA/best.safetensors", "cut/")
    with open("cut/metrics.json", "w") as f:
        f.write(open("runA/metrics.json").read()[:700])
    os.makedirs("broken")
    shutil.copy("runA/metrics.json", "broken/")
    with open("broken/best.safetensors", "wb") as f:
        f.write(open("runA/best.safetensors", "rb").read()[:5000])
    for name, missing in [("half", "metrics.json is missing"), ("cut", "metrics.json is not valid JSON"),
                          ("broken", "the checkpoint could not be used")]:
        rc, out, err = run([fovea, "report", name])
        check(rc == 0 and missing in err, f"{name}: the report is written and says '{missing}' ({err.strip()[:200]})")
        d = load(f"{name}/report.html")
        notes = [a for t, a, _ in d.elements if t == "div" and "data-notes" in a]
        check(notes and missing in d.section_text("r0-run"), f"{name}: the page itself says '{missing}'")
        check(all(d.sections.get(f"r0-{s}") == s for s in SECTIONS), f"{name}: every section is there")

    # --- data that moved away: results from metrics.json, a note, no explanations ---
    make_folder("shapes", np.random.default_rng(0))
    rc, out, err = run([fovea, "train", "--model", "lenet5", "--data", "folder:shapes",
                        "--epochs", "1", "--batch-size", "8", "--quiet", "--out", "runC"])
    check(rc == 0, f"a run on an RGB folder: {err[-300:]}")
    rc, out, err = run([fovea, "report", "runC"])
    d = load("runC/report.html")
    check(rc == 0 and len(d.inside("r0-filters", "img")) == 6 + 1 + 6, "RGB first-layer filters and maps are shown")
    os.rename("shapes", "shapes_moved")
    rc, out, err = run([fovea, "report", "runC"])
    check(rc == 0 and "the test data could not be opened" in err, f"moved data: a note ({err.strip()[:200]})")
    d = load("runC/report.html")
    check("metrics.json, epoch 1" in d.section_text("r0-results"), "moved data: the results are metrics.json's")
    check("Not available" in d.section_text("r0-explanations"), "moved data: the page says why nothing is explained")

    # --- nothing to report: a clear error, non-zero exit, no page ---
    os.makedirs("empty")
    for args, says in [(["nowhere"], "nowhere: no such directory"), (["empty"], "empty: not a run directory"),
                       (["runA", "--checkpoint", "middle"], "checkpoint must be 'best' or 'last'"),
                       (["runA", "--rf-layer", "nope"], "--rf-layer 'nope' is not a layer")]:
        rc, out, err = run([fovea, "report", *args])
        check(rc != 0 and says in err, f"fovea report {' '.join(args)}: exit {rc}, says '{says}' ({err.strip()[:160]})")
    check(not os.path.exists("empty/report.html"), "no page is left in an empty directory")

    # --- two runs compared ---
    rc, out, err = train(fovea, "runD", "--epochs", "2", "--lr", "0.02")
    rc, out, err = run([fovea, "report", "runA", "runD", "--out", "compare.html"])
    check(rc == 0 and "wrote compare.html" in out, f"fovea report runA runD --out compare.html: {err.strip()}")
    d = load("compare.html")
    check(d.sections.get("compare") == "compare", "the comparison section is there")
    cmp = d.section_text("compare")
    check("runA" in cmp and "runD" in cmp and "lr" in cmp and "0.02" in cmp, "the final figures and the differing lr")
    check(len(d.inside("compare", "canvas")) == 2, "the curves are overlaid in 2 charts")
    check(all(d.sections.get(f"r{i}-{s}") == s for i in (0, 1) for s in SECTIONS), "each run's own sections follow")

    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
