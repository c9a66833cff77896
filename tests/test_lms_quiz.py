"""Quiz export: Moodle XML calculated questions and a Canvas QTI 1.2 package, parsed back and
checked against the elements each LMS's importer reads (Moodle's
``qformat_xml::import_calculated``, Canvas's ``calculated_interaction.rb`` and its QTI export's
``qti_items.rb``; see docs/lms-formats.md); the values each variant shows give its answer, by an
independent oracle (finite differences of a plain-Python network). Regenerate the golden files
with ``UPDATE_GOLDEN=1 pytest tests/test_lms_quiz.py``."""

from __future__ import annotations

import copy
import io
import json
import os
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from oracle import Oracle, fd_close

from grader.cli import cli
from grader.lms import quiz
from grader.spec import Tolerance

GOLDEN = Path(__file__).parent / "golden" / "lms"
EXERCISES = Path(__file__).resolve().parents[1] / "exercises"
QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"
# what import_calculated reads from each question, unconditionally (a missing one is a PHP error there)
MOODLE_PATHS = ("name/text", "questiontext/text", "answer", "dataset_definitions/dataset_definition")
MOODLE_ANSWER = ("text", "tolerance", "tolerancetype", "correctanswerformat", "correctanswerlength")
MOODLE_DATASET = ("status/text", "name/text", "type", "distribution/text", "maximum/text", "minimum/text",
                  "decimals/text", "itemcount", "dataset_items", "number_of_items")


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"differs from {path}; UPDATE_GOLDEN=1 to accept"


def export(tmp_path, *args: str) -> tuple[Path, str]:
    out = tmp_path / "quiz.out"
    res = CliRunner().invoke(cli, ["export", *args, "-o", str(out)])
    assert res.exit_code == 0, res.output
    return out, res.output


def oracle_answer(data: dict, ask: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The answer from the plain-Python oracle: a value, or finite differences (with an error bound)."""
    o = Oracle(data)
    ask = ask.replace("∂", "d")
    if "/" not in ask:
        return o.value(ask), None
    a, b = ask.split("/")
    return o.fd(a[1:], b[1:])


def variant_data(values: dict[str, str]) -> dict:
    """The output-layer exercise with the values a variant shows."""
    data = json.loads((EXERCISES / "tutorial-4-output-layer.json").read_text("utf-8"))
    data = copy.deepcopy(data)
    for name, v in values.items():
        if name in data["network"]["parameters"]:
            data["network"]["parameters"][name]["value"] = float(v)
        elif name in data["inputs"]:
            data["inputs"][name] = float(v)
        else:
            data["targets"][name] = float(v)
    return data


def test_moodle_xml_is_what_moodles_importer_reads(tmp_path):
    out, message = export(tmp_path, "tutorial-4-output-layer", "--to", "moodle-xml", "--variants", "3")
    text = out.read_text("utf-8")
    golden("quiz-output-layer.moodle.xml", text)
    root = ET.fromstring(text)
    assert root.tag == "quiz"
    questions = [q for q in root.findall("question") if q.get("type") == "calculated"]
    assert len(questions) == 16 and "16 questions" in message
    checked = 0
    for q in questions:
        for path in MOODLE_PATHS:
            assert q.find(path) is not None, path
        answer = q.find("answer")
        assert answer.get("fraction") == "100"
        for tag in MOODLE_ANSWER:
            assert answer.find(tag) is not None and answer.find(tag).text, tag
        datasets = {}
        for d in q.findall("dataset_definitions/dataset_definition"):
            for path in MOODLE_DATASET:
                assert d.find(path) is not None, path
            items = d.findall("dataset_items/dataset_item")
            assert d.find("itemcount").text == d.find("number_of_items").text == str(len(items)) == "3"
            assert [i.find("number").text for i in items] == ["1", "2", "3"]
            assert d.find("status/text").text == "private" and d.find("type").text == "calculated"
            datasets[d.find("name/text").text] = [i.find("value").text for i in items]
        # every wildcard of the answer formula and the question text has its dataset
        wildcards = set(re.findall(r"\{(\w+)\}", answer.find("text").text + q.find("questiontext/text").text))
        assert wildcards == set(datasets) and answer.find("text").text == "{ans}"
        # the values a variant shows give the answer it carries (an independent oracle)
        name = q.find("name/text").text.split(" ", 1)[1]
        spec_q = next(x for x in json.loads((EXERCISES / "tutorial-4-output-layer.json").read_text())["questions"]
                      if x["id"] == name)
        if spec_q.get("after_epochs") or spec_q.get("given"):
            continue
        for k in range(3):
            data = variant_data({w: v[k] for w, v in datasets.items() if w != "ans"})
            est, err = oracle_answer(data, spec_q["ask"])
            got = float(datasets["ans"][k])
            assert (np.isclose(got, est, rtol=1e-9) if err is None else fd_close(got, est, err)), (name, k)
        checked += 1
    assert checked == 15  # every question but the one after an epoch


def test_canvas_qti_package_is_what_canvas_reads(tmp_path):
    out, message = export(tmp_path, "tutorial-4-matrix", "--to", "canvas-qti", "--variants", "2")
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        manifest = z.read("imsmanifest.xml").decode()
        golden("quiz-matrix.imsmanifest.xml", manifest)
        m = ET.fromstring(manifest)
        resources = m.findall(f"{CP}resources/{CP}resource")
        assert len(resources) == 1 and resources[0].get("type") == "imsqti_xmlv1p2"
        href = resources[0].find(f"{CP}file").get("href")
        assert href in names and set(names) == {"imsmanifest.xml", href}  # the manifest names every item file
        body = z.read(href).decode()
    golden("quiz-matrix.qti.xml", body)
    root = ET.fromstring(body)
    assessment = root.find(f"{QTI}assessment")
    assert assessment.get("ident") == resources[0].get("identifier")
    items = assessment.findall(f"{QTI}section/{QTI}item")
    ids = [i.get("title").split(" ", 1)[1] for i in items]
    # matrix and vector questions are one question per entry
    assert "dW2[0][1]" in ids and "W1_new[1][0]" in ids and "E" in ids and "E_1000" in ids and "dW2" not in ids
    assert len(items) == 26 and "26 questions (24 of them matrix or vector entries" in message
    points = {}
    for it in items:
        meta = {f.find(f"{QTI}fieldlabel").text: f.find(f"{QTI}fieldentry").text
                for f in it.findall(f"{QTI}itemmetadata/{QTI}qtimetadata/{QTI}qtimetadatafield")}
        assert meta["question_type"] == "calculated_question"
        points[it.get("title").split(" ", 1)[1]] = float(meta["points_possible"])
        text = it.find(f"{QTI}presentation/{QTI}material/{QTI}mattext").text
        assert it.find(f"{QTI}presentation/{QTI}response_str/{QTI}render_fib").get("fibtype") == "Decimal"
        calc = it.find(f"{QTI}itemproc_extension/{QTI}calculated")
        assert calc.find(f"{QTI}answer_tolerance").text.endswith("%")  # relative tolerances as Canvas writes them
        formula = calc.find(f"{QTI}formulas/{QTI}formula").text
        places = int(calc.find(f"{QTI}formulas").get("decimal_places"))
        variables = {v.get("name") for v in calc.findall(f"{QTI}vars/{QTI}var")}
        assert set(re.findall(r"\[(\w+)\]", text)) | {formula} == variables
        sets = calc.findall(f"{QTI}var_sets/{QTI}var_set")
        assert len(sets) == 2
        for s in sets:
            assert {v.get("name") for v in s.findall(f"{QTI}var")} == variables
            values = {v.get("name"): float(v.text) for v in s.findall(f"{QTI}var")}
            answer = float(s.find(f"{QTI}answer").text)
            assert answer == values[formula]
            assert abs(round(answer, places) - answer) <= 5e-4 * abs(answer)  # shown with 4 significant figures
    assert points["dW2[0][1]"] == 0.5 and points["E"] == 1  # a 2-point matrix: 0.5 a entry


def test_variants_are_reproducible_from_the_seed(tmp_path):
    a, _ = export(tmp_path, "tutorial-4-output-layer", "--to", "canvas-qti", "--variants", "4", "--seed", "7")
    first = a.read_bytes()
    b, _ = export(tmp_path, "tutorial-4-output-layer", "--to", "canvas-qti", "--variants", "4", "--seed", "7")
    assert b.read_bytes() == first
    c, _ = export(tmp_path, "tutorial-4-output-layer", "--to", "canvas-qti", "--variants", "4", "--seed", "8")
    assert c.read_bytes() != first
    q = quiz.build("tutorial-4-output-layer", 4, 7)
    assert len({tuple(sorted(v.items())) for v in q.values}) == 4  # four different variants
    for v in q.values:
        assert 0.01 <= v["x1"] <= 0.2 and round(v["x1"], 2) == v["x1"]  # the spec's range and decimals


def test_an_exercise_without_variants_cannot_have_several(tmp_path, bundled_data):
    data = bundled_data("tutorial-4-hidden-layer")
    assert "variants" not in data
    res = CliRunner().invoke(cli, ["export", "tutorial-4-hidden-layer", "--to", "moodle-xml", "--variants", "3",
                                   "-o", str(tmp_path / "q.xml")])
    assert res.exit_code == 2 and "no variants section" in res.output
    out, _ = export(tmp_path, "tutorial-4-hidden-layer", "--to", "moodle-xml", "--variants", "1")
    root = ET.parse(out).getroot()
    given = root.find("question[@type='calculated']/questiontext/text").text
    assert "with x2 = 0.3" in given  # a question's given is in its text


@pytest.mark.parametrize("tol, kind, amount", [
    (Tolerance("relabs", 1e-2, 1e-8), "relative", 1e-2),
    (Tolerance("relabs", 0.0, 1e-3), "absolute", 1e-3),
    (Tolerance("decimal", digits=3), "absolute", 5e-4),
    (Tolerance("sigfig", digits=3), "relative", 5e-3),
])
def test_tolerances_follow_the_question(tol, kind, amount):
    got = quiz.tolerance(tol)
    assert got[0] == kind and got[1] == pytest.approx(amount)


def test_sigfig_tolerance_accepts_every_correctly_rounded_answer():
    rng = np.random.default_rng(3)
    kind, rel = quiz.tolerance(Tolerance("sigfig", digits=3))
    for x in rng.uniform(-1, 1, 500) * 10.0 ** rng.integers(-5, 5, 500):
        rounded = float(f"{x:.2e}")  # 3 significant figures
        assert abs(rounded - x) <= rel * abs(x)


def test_written_files_are_readable_xml_even_with_markup_in_the_text(tmp_path, bundled_data):
    data = bundled_data("tutorial-4-output-layer")
    data["title"] = "A <b>bold</b> & \"quoted\" title ]]>"
    data["questions"][0]["text"] = "o1 < 1 & > 0"
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(data))
    out, _ = export(tmp_path, str(path), "--to", "moodle-xml", "--variants", "2")
    q = ET.parse(out).getroot().find("question[@type='calculated']")
    assert "A &lt;b&gt;bold&lt;/b&gt; &amp; \"quoted\" title ]]&gt;" in q.find("questiontext/text").text
    out, _ = export(tmp_path, str(path), "--to", "canvas-qti", "--variants", "2")
    with zipfile.ZipFile(io.BytesIO(out.read_bytes())) as z:
        body = [n for n in z.namelist() if n != "imsmanifest.xml"][0]
        ET.fromstring(z.read(body))
