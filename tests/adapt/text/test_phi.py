"""climb.harmonize.phi: what de-identified free text must not contain, and what it may."""

from __future__ import annotations

import pytest

from climb.errors import RecordError
from climb.harmonize.phi import check_text, phi_kinds


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("Seen on 03/14/2019 for chest pain.", ["date"]),
        ("Admitted 2019-03-14, discharged two days later.", ["date"]),
        ("CT of 14.03.2019 shows no change.", ["date"]),
        ("Follow-up on March 14 was normal.", ["date"]),
        ("Biopsy taken 2nd of Dec.", ["date"]),
        ("Call (555) 123-4567 with results.", ["phone number"]),
        ("Pager 555.123.4567", ["phone number"]),
        ("SSN 123-45-6789 on file", ["SSN"]),
        ("Send to jane.doe@example.org", ["email address"]),
        ("Images at https://example.org/cases/smith", ["URL"]),
        ("MRN: 00123456, bed 4", ["record number"]),
        ("medical record number 55123", ["record number"]),
        ("Patient ID is 4471; call 555-222-3333", ["phone number", "record number"]),
    ],
)
def test_phi_is_found(text, kinds):
    assert phi_kinds(text) == kinds


@pytest.mark.parametrize(
    "text",
    [
        "A 45-year-old man with BP 150/95 mm Hg and HR 110/min; G2P1-0-1-1.",
        "Hb 12.5 g/dL, platelets 250,000/mm3, pH 7.40, sodium 140-150 mEq/L.",
        "Symptoms began in March 2019 and recurred in 2020.",  # a month or a year alone
        "Patient is a ___ year old admitted on [**2151-7-16**] by Dr. [**Name**].",
        "Normal chest x-XXXX. Heart size within normal limits XXXX XXXX.",
        "Dose was 1-2-3 tablets; CA 19-9 was elevated.",
    ],
)
def test_clinical_numbers_and_placeholders_pass(text):
    assert phi_kinds(text) == []


def test_a_hit_names_kind_and_field_never_the_text():
    secret = "Call 555-867-5309"
    with pytest.raises(RecordError) as err:
        check_text("reports/r1.json", {"findings": "clear", "question": secret})
    message = str(err.value)
    assert message.startswith("reports/r1.json: ")
    assert "phone number" in message and "'question'" in message
    assert "555" not in message and "findings" not in message
    check_text("reports/r2.json", {"question": "Is there an effusion?", "empty": None})
