"""A Canvas QTI 1.2 package of ``calculated_question`` items (``grade export --to canvas-qti``).

Written as Canvas's own QTI export writes such items (``lib/cc/qti/qti_items.rb``:
``calculated_response_str``, ``calculated_resprocessing``, ``calculated_extension``) and its
importer reads them (``calculated_interaction.rb``): the question text shows the variables as
``[x1]``; ``itemproc_extension/calculated`` has the tolerance, the formula (the variable that
carries the answer), the variables and one ``var_set`` per variant with its values and answer.
The zip holds ``imsmanifest.xml`` (one ``imsqti_xmlv1p2`` resource) and the assessment.
"""

from __future__ import annotations

import hashlib
import io
import xml.etree.ElementTree as ET
import zipfile

from .quiz import Quiz, decimals_for, tolerance

QTI_NS = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
CP_NS = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"


def _ident(*parts: str) -> str:
    return "g" + hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]


def _field(meta: ET.Element, label: str, entry: str) -> None:
    f = ET.SubElement(meta, "qtimetadatafield")
    ET.SubElement(f, "fieldlabel").text = label
    ET.SubElement(f, "fieldentry").text = entry


def _tolerance(item) -> str:
    kind, amount = tolerance(item.tolerance)
    return format(amount * 100, ".10g") + "%" if kind == "relative" else format(amount, ".10g")


def assessment(quiz: Quiz, ident: str) -> str:
    root = ET.Element("questestinterop", xmlns=QTI_NS)
    a = ET.SubElement(root, "assessment", ident=ident, title=quiz.title)
    meta = ET.SubElement(a, "qtimetadata")
    _field(meta, "cc_maxattempts", "1")
    section = ET.SubElement(a, "section", ident="root_section")
    for item in quiz.items:
        it = ET.SubElement(section, "item", ident=_ident(quiz.exercise, item.id), title=item.name)
        qm = ET.SubElement(ET.SubElement(it, "itemmetadata"), "qtimetadata")
        _field(qm, "question_type", "calculated_question")
        _field(qm, "points_possible", format(item.points, "g"))
        _field(qm, "original_answer_ids", ",".join(str(k) for k in range(1, len(item.answers) + 1)))
        text = item.text
        for var, *_ in quiz.variables:
            text = text.replace("{" + var + "}", f"[{var}]")
        pres = ET.SubElement(it, "presentation")
        ET.SubElement(ET.SubElement(pres, "material"), "mattext", texttype="text/html").text = f"<div>{text}</div>"
        rs = ET.SubElement(pres, "response_str", ident="response1", rcardinality="Single")
        ET.SubElement(ET.SubElement(rs, "render_fib", fibtype="Decimal"), "response_label", ident="answer1")
        proc = ET.SubElement(it, "resprocessing")
        ET.SubElement(ET.SubElement(proc, "outcomes"), "decvar", maxvalue="100", minvalue="0", varname="SCORE",
                      vartype="Decimal")
        right = ET.SubElement(proc, "respcondition", title="correct")
        ET.SubElement(ET.SubElement(right, "conditionvar"), "other")
        ET.SubElement(right, "setvar", varname="SCORE", action="Set").text = "100"
        wrong = ET.SubElement(proc, "respcondition", title="incorrect")
        ET.SubElement(ET.SubElement(ET.SubElement(wrong, "conditionvar"), "not"), "other")
        ET.SubElement(wrong, "setvar", varname="SCORE", action="Set").text = "0"
        calc = ET.SubElement(ET.SubElement(it, "itemproc_extension"), "calculated")
        ET.SubElement(calc, "answer_tolerance").text = _tolerance(item)
        places = decimals_for(item.answers)
        ET.SubElement(ET.SubElement(calc, "formulas", decimal_places=str(places)), "formula").text = quiz.answer_variable
        shown = [(var, lo, hi, dec) for var, _, lo, hi, dec in quiz.variables if f"[{var}]" in text]
        vs = ET.SubElement(calc, "vars")
        for var, lo, hi, dec in shown:
            v = ET.SubElement(vs, "var", name=var, scale=str(dec))
            ET.SubElement(v, "min").text = format(lo, ".10g")
            ET.SubElement(v, "max").text = format(hi, ".10g")
        v = ET.SubElement(vs, "var", name=quiz.answer_variable, scale=str(places))
        ET.SubElement(v, "min").text = repr(min(item.answers))
        ET.SubElement(v, "max").text = repr(max(item.answers))
        sets = ET.SubElement(calc, "var_sets")
        for k, (values, answer) in enumerate(zip(quiz.values, item.answers, strict=True), start=1):
            s = ET.SubElement(sets, "var_set", ident=str(k))
            for var, *_ in shown:
                ET.SubElement(s, "var", name=var).text = format(values[var], ".10g")
            ET.SubElement(s, "var", name=quiz.answer_variable).text = repr(answer)
            ET.SubElement(s, "answer").text = repr(answer)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def manifest(quiz: Quiz, ident: str, href: str) -> str:
    root = ET.Element("manifest", identifier=_ident("manifest", ident), xmlns=CP_NS)
    md = ET.SubElement(root, "metadata")
    ET.SubElement(md, "schema").text = "IMS Content"
    ET.SubElement(md, "schemaversion").text = "1.1.3"
    ET.SubElement(root, "organizations")
    res = ET.SubElement(ET.SubElement(root, "resources"), "resource", identifier=ident, type="imsqti_xmlv1p2")
    ET.SubElement(res, "file", href=href)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def package(quiz: Quiz) -> bytes:
    """The zip's bytes; fixed times, so the same quiz gives the same bytes."""
    ident = _ident("assessment", quiz.exercise, str(quiz.seed), str(len(quiz.values)))
    href = f"{ident}/{ident}.xml"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("imsmanifest.xml", manifest(quiz, ident, href)), (href, assessment(quiz, ident))):
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), text)
    return buf.getvalue()
