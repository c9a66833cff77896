"""Moodle XML ``calculated`` questions (``grade export --to moodle-xml``).

Written as ``qformat_xml::import_calculated`` reads it (``question/format/xml/format.php``):
every element it reads unconditionally is present. One dataset per variable, private, with one
item per variant; the answer is the formula ``{ans}`` whose dataset carries each variant's
precomputed answer, and the question text shows the variant's values through their wildcards.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .quiz import Quiz, decimals_for, tolerance

TOLERANCE_TYPE = {"relative": "1", "absolute": "2"}  # Moodle: 1 relative, 2 nominal, 3 geometric


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    ET.SubElement(el, "text").text = text
    return el


def _leaf(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def _dataset(parent: ET.Element, name: str, lo: float, hi: float, decimals: int, values: list[str]) -> None:
    d = ET.SubElement(parent, "dataset_definition")
    _text(d, "status", "private")
    _text(d, "name", name)
    _leaf(d, "type", "calculated")
    _text(d, "distribution", "uniform")
    _text(d, "minimum", format(lo, ".10g"))
    _text(d, "maximum", format(hi, ".10g"))
    _text(d, "decimals", str(decimals))
    _leaf(d, "itemcount", str(len(values)))
    items = ET.SubElement(d, "dataset_items")
    for k, v in enumerate(values, start=1):
        item = ET.SubElement(items, "dataset_item")
        _leaf(item, "number", str(k))
        _leaf(item, "value", v)
    _leaf(d, "number_of_items", str(len(values)))


def write(quiz: Quiz) -> str:
    root = ET.Element("quiz")
    # no "--" inside an XML comment: the options are written out in words
    root.append(ET.Comment(f" grade export of {quiz.exercise}: {len(quiz.values)} variants from seed {quiz.seed} "))
    cat = ET.SubElement(root, "question", type="category")
    _text(cat, "category", f"$course$/top/{quiz.exercise}")
    for item in quiz.items:
        q = ET.SubElement(root, "question", type="calculated")
        _text(q, "name", item.name)
        _text(q, "questiontext", item.text, format="html")
        _text(q, "generalfeedback", "", format="html")
        for tag, value in (("defaultgrade", format(item.points, "g")), ("penalty", "0.3333333"), ("hidden", "0"),
                           ("synchronize", "0"), ("single", "0"), ("answernumbering", "abc"),
                           ("shuffleanswers", "0")):
            _leaf(q, tag, value)
        for tag in ("correctfeedback", "partiallycorrectfeedback", "incorrectfeedback"):
            _text(q, tag, "", format="html")
        kind, amount = tolerance(item.tolerance)
        sigfig = item.tolerance.mode == "sigfig"
        a = _text(q, "answer", "{" + quiz.answer_variable + "}", fraction="100")
        _leaf(a, "tolerance", format(amount, ".10g"))
        _leaf(a, "tolerancetype", TOLERANCE_TYPE[kind])
        _leaf(a, "correctanswerformat", "2" if sigfig else "1")  # 2 significant figures, 1 decimals
        _leaf(a, "correctanswerlength", str(item.tolerance.digits if item.tolerance.mode != "relabs"
                                            else decimals_for(item.answers)))
        _text(a, "feedback", "", format="html")
        for tag, value in (("unitgradingtype", "0"), ("unitpenalty", "0.1000000"), ("showunits", "3"),
                           ("unitsleft", "0")):
            _leaf(q, tag, value)
        sets = ET.SubElement(q, "dataset_definitions")
        _dataset(sets, quiz.answer_variable, min(item.answers), max(item.answers), 10,
                 [repr(float(x)) for x in item.answers])
        for var, _, lo, hi, decimals in quiz.variables:
            if "{" + var + "}" in item.text:
                _dataset(sets, var, lo, hi, decimals, [format(v[var], ".10g") for v in quiz.values])
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
