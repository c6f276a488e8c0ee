"""Which nodes a stalled tie rewinds (`ledger.chain.stall.tie`): geth's own rule, lower number then
lower hash, over the heaviest heads only."""

from ledger.chain.stall import Head, tie

A, B, C = "0x" + "a" * 64, "0x" + "b" * 64, "0x" + "c" * 64


def test_the_shorter_of_two_equally_heavy_branches_wins_and_the_longer_one_is_rewound():
    heads = {
        "platform": Head(44, B, 90),
        "brand": Head(44, B, 90),
        "carrier": Head(45, A, 90),
        "regulator": Head(45, A, 90),
    }
    winner, losers = tie(heads)
    assert winner == Head(44, B, 90) and losers == ["carrier", "regulator"]


def test_at_the_same_height_the_lower_hash_wins():
    assert tie({"x": Head(45, B, 90), "y": Head(45, A, 90)}) == (Head(45, A, 90), ["x"])


def test_a_heavier_branch_or_one_head_is_no_tie():
    assert tie({"x": Head(44, B, 89), "y": Head(45, A, 90)}) is None  # the lighter side fetches by itself
    assert tie({"x": Head(45, A, 90), "y": Head(45, A, 90)}) is None
    assert tie({}) is None


def test_only_the_tied_heaviest_are_rewound_not_a_lighter_straggler():
    heads = {"x": Head(44, B, 90), "y": Head(45, A, 90), "z": Head(43, C, 88)}
    assert tie(heads) == (Head(44, B, 90), ["y"])


def test_a_node_left_behind_while_the_others_seal_on_is_named_once_per_patience():
    """A healed partition: the carrier's head stands while the others' move on, so the network is
    never still; the carrier is named (to be redialled) once its head has stood for `patience`."""
    from ledger.chain.stall import Watch

    watch, carrier = Watch(), Head(356, C, 700)
    late = []
    for second in range(20):
        others = Head(400 + second, A if second % 2 else B, 800 + 2 * second)
        late.append(watch.behind({"platform": others, "brand": others, "carrier": carrier}, float(second), 7))
    assert [s for s, names in enumerate(late) if names] == [8, 16] and late[8] == ["carrier"]
    # a node that is catching up (its head moves) is not named, nor the heaviest
    watch, seconds = Watch(), range(20)
    for s in seconds:
        assert watch.behind({"a": Head(400 + s, A, 800 + 2 * s), "b": Head(300 + s, B, 600 + s)}, float(s), 7) == []
