"""The one answer to "is this the same child?" (app/cases/matching.py), which intake and the import share."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlcount import starting, statements_sent

from app.cases.identity import id_number_valid, normalise_id_number, normalise_name, phone_digits
from app.cases.matching import ChildFacts, county_of, match_child, match_children
from app.cases.models import Child, Guardian
from app.common.clock import now
from app.extensions import db
from app.org.queries import region_by_code

ID = "370000201506010011"


def _child(name: str = "李小明", village: str = "t01v01", id_number: str | None = ID,
           birth: date | None = date(2015, 6, 1)) -> Child:
    child = Child(name=name, sex="male", birth_date=birth, id_number=id_number, village=region_by_code(village),
                  tags=[], created_at=now())
    child.guardians = [Guardian(name="李大山", relation="father", phone="138-0000 0001")]
    db.session.add(child)
    db.session.flush()
    return child


def test_id_numbers_meet_however_they_are_typed() -> None:
    assert normalise_id_number(" 3700 0020 1506 0100 1x ") == "37000020150601001X"
    assert normalise_id_number("３７００００２０１５０６０１００１１") == ID  # full-width digits from an IME
    assert normalise_id_number("") is None and normalise_id_number(None) is None
    # a first-generation 15-digit number is the 18-digit one of the same person
    assert normalise_id_number("110105491231002") == "11010519491231002X"
    assert id_number_valid("11010519491231002X") and not id_number_valid("110105194912310021")
    assert not id_number_valid("12345")
    assert normalise_name(" 李 小明 ") == "李小明" and normalise_name("买买提·艾力") == "买买提·艾力"
    assert phone_digits("+86 138-0000-0001") == "13800000001" == phone_digits("１３８０００００００１")


def test_the_model_keeps_its_normal_forms_and_county(demo: Any) -> None:
    child = _child(id_number="3700 0020 1506 0100 11")
    assert child.id_number_norm == ID and child.id_number == "3700 0020 1506 0100 11"
    assert child.county_id == region_by_code("c01").id == county_of(child.village_id)
    assert child.guardians[0].phone_digits == "13800000001"
    child.id_number = None
    assert child.id_number_norm is None


def test_one_id_number_is_one_child_per_county(demo: Any) -> None:
    _child()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        _child(name="另一个名字", village="t02v01", id_number="3700002015 06010011")
    # another county may hold its own file for the number (several counties share one deployment)
    assert _child(village="t21v01").county_id == region_by_code("c02").id


def test_exact_and_likely_matches(demo: Any) -> None:
    known = _child()
    same_name_no_id = _child(id_number=None)
    v1 = region_by_code("t01v01").id
    found = match_child(ChildFacts(name="王二", id_number="370000 201506010011", village_id=v1))
    assert found.exact is known and found.likely == ()
    # no ID number: the same name, birth date and village are likely matches (both files)
    found = match_child(ChildFacts(name="李 小明", birth_date=date(2015, 6, 1), village_id=v1))
    assert found.exact is None and set(found.likely) == {known, same_name_no_id}
    # a different ID number is a different child: only the file without a number remains likely
    found = match_child(ChildFacts(name="李小明", birth_date=date(2015, 6, 1), village_id=v1,
                                   id_number="370000201506010029"))
    assert found.likely == (same_name_no_id,)
    # another birth date or village: nothing
    assert not match_child(ChildFacts(name="李小明", birth_date=date(2015, 6, 2), village_id=v1)).found
    assert not match_child(ChildFacts(name="李小明", birth_date=date(2015, 6, 1),
                                      village_id=region_by_code("t01v02").id)).found


def test_a_child_committed_between_the_two_reads_is_the_same_child(demo: Any) -> None:
    """Two reports about one child at the same moment: the other report's child was made after the ID-number
    read and before the name read (seen with four clients filing through a stop, tests/load/test_serve.py).
    Its ID number is this report's: the same child, not a likely match to choose from."""
    reads: list[str] = []

    def between(state: Any) -> None:
        if state.is_select and "child" in str(state.statement):
            reads.append(str(state.statement))
            if len(reads) == 2:  # the name read: the other report's child exists by now
                made.append(_child())

    made: list[Child] = []
    sa.event.listen(db.session, "do_orm_execute", between)
    try:
        found = match_child(ChildFacts(name="李小明", birth_date=date(2015, 6, 1), id_number=ID,
                                       village_id=region_by_code("t01v01").id))
    finally:
        sa.event.remove(db.session, "do_orm_execute", between)
    assert len(reads) == 2 and "id_number_norm IN" in reads[0]
    assert found.exact is made[0] and found.likely == ()


def test_a_merged_file_answers_with_the_kept_one(demo: Any) -> None:
    kept = _child(id_number=None)
    merged = _child(name="李晓明")
    merged.merged_into_id = kept.id
    db.session.flush()
    assert match_child(ChildFacts(id_number=ID, village_id=kept.village_id)).exact is kept
    # a merged file is never offered as a likely match
    facts = ChildFacts(name="李晓明", birth_date=date(2015, 6, 1), village_id=kept.village_id)
    assert match_child(facts).likely == ()


def test_many_rows_cost_two_statements(demo: Any) -> None:
    children = [_child(name=f"儿童{n}", id_number=f"3700002015{n:08d}") for n in range(30)]
    v1 = region_by_code("t01v01").id
    facts = [ChildFacts(name=f"儿童{n}", birth_date=date(2015, 6, 1), village_id=v1,
                        id_number=f"3700002015{n:08d}" if n % 2 else None) for n in range(60)]
    county = county_of(v1)
    with statements_sent(starting("SELECT")) as seen:
        found = match_children(facts, county)
    assert len(seen) == 2, seen
    assert [f.exact for f in found[:30:2]] == [None] * 15
    assert [f.exact for f in found[1:30:2]] == children[1:30:2]
    assert [f.likely for f in found[:30:2]] == [(c,) for c in children[:30:2]]
    assert not any(f.found for f in found[30:])
    assert db.session.scalar(sa.select(sa.func.count(Child.id))) == 30
