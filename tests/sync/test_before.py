"""Table tests for the read before write's decisions (`sync/before.py`), no I/O."""

from __future__ import annotations

from bulkassoc.rows.reader import Row
from bulkassoc.sync.before import ReadFirst, Split

U, H = "USER_DEFINED", "HUBSPOT_DEFINED"


def row(from_id: str, to_id: str, assoc_type: str = "279") -> Row:
    return Row("contacts", from_id, "companies", to_id, assoc_type, 2)


def read_first() -> ReadFirst:
    return ReadFirst(None, category=H, run_id=7)  # type: ignore[arg-type]  # decide() sends nothing


def test_present_new_and_union() -> None:
    rf, out = read_first(), Split()
    existing = {"1": {"2": {(U, 37), (H, 279)}}, "3": {"4": {(U, 37)}}}
    rows = [row("1", "2"), row("3", "4"), row("5", "6"), row("003", "4", "1")]
    rf.decide(rows, existing, out)
    assert out.present == [rows[0]] and out.write == rows[1:]
    assert [(o[1], o[3], o[4]) for o in out.origins] == [
        ("present", H, '[["USER_DEFINED",37]]'), ("created", H, '[["USER_DEFINED",37]]'), ("created", H, "[]"),
        ("created", H, '[["USER_DEFINED",37]]')]
    # two rows of pair (3, 4): both writes carry the label and both new types; (5, 6) its own type
    assert rf.union(rows[1]) == rf.union(rows[3]) == [(H, 1), (H, 279), (U, 37)]
    assert rf.union(rows[2]) == [(H, 279)]


def test_a_union_lives_until_its_last_row_settles_and_is_lent_to_a_read_under_way() -> None:
    rf, out = read_first(), Split()
    first, second = row("3", "4"), row("3", "4", "1")
    rf.decide([first, second], {"3": {"4": {(U, 37)}}}, out)
    rf.settled(first)
    assert rf.union(second) == [(H, 1), (H, 279), (U, 37)]
    with rf.reading() as since:  # a later chunk's read is under way while the last row settles
        rf.settled(second)
        assert rf.union(second) is None
        later = Split()
        third = row("3", "4", "5")
        rf.decide([third], {"3": {"4": {(U, 37)}}}, later, since)  # its read did not see 1 and 279 yet
    assert rf.union(third) == [(H, 1), (H, 5), (H, 279), (U, 37)]


def test_a_pair_written_alone_is_lent_to_a_later_chunk_whose_read_missed_it() -> None:
    """Chunk 1 writes 279 for a pair that had nothing; chunk 2's read runs before that write lands and
    sees nothing either: chunk 2's write of type 1 must carry 279 too, or HubSpot would replace it."""
    rf = read_first()
    first, later = row("5", "6"), row("5", "6", "1")
    rf.decide([first], {}, Split())
    with rf.reading() as since:  # chunk 2's read is under way
        rf.decide([later], {}, Split(), since)
    assert rf.union(later) == [(H, 1), (H, 279)]
    rf.settled(first)  # chunk 1's write lands while chunk 2's is still to go
    assert rf.union(later) == [(H, 1), (H, 279)]
    rf.settled(later)
    assert rf.union(later) is None  # nothing left in flight: nothing kept


def test_overlapping_reads_each_keep_what_settled_since_they_began_and_nothing_after() -> None:
    """The intake reads ahead: the reads of chunks 2 and 3 are under way at once. A pair of chunk 1 settles
    while both are: each read's chunk gets its union, whichever is decided first; a read that begins after
    the settle (it sees the write) gets nothing; nothing is kept once the reads are decided."""
    rf = read_first()
    first = row("5", "6")
    rf.decide([first], {}, Split())
    with rf.reading() as second_since, rf.reading() as third_since:
        rf.settled(first)  # chunk 1's write lands; neither read saw it
        with rf.reading() as fourth_since:  # begins after the write landed: its read sees 279
            rf.decide([row("5", "6", "4")], {"5": {"6": {(H, 279)}}}, Split(), fourth_since)
        assert fourth_since == {}
        rf.decide([row("5", "6", "3")], {}, Split(), third_since)
        rf.decide([row("5", "6", "1")], {}, Split(), second_since)
    assert rf.union(row("5", "6", "1")) == [(H, 1), (H, 3), (H, 4), (H, 279)]
    assert rf._reads == {}


def test_type_names_are_written_without_an_origin() -> None:
    rf, out = read_first(), Split()
    rf.decide([row("1", "2", "contact_to_company")], {}, out)
    assert len(out.write) == 1 and out.origins == [] and out.present == []
