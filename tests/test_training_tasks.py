"""Built-in tasks: seeded, disjoint splits, chosen is correct and rejected a near miss."""

from __future__ import annotations

import pytest

from logicpo.errors import UsageError
from logicpo.training.tasks import TASKS, get_task


@pytest.mark.parametrize("name", sorted(TASKS))
def test_same_seed_same_examples_other_seed_others(name):
    task = get_task(name)
    a = task.examples("train", 50, seed=3)
    assert a == task.examples("train", 50, seed=3)
    assert a != task.examples("train", 50, seed=4)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_chosen_is_correct_and_rejected_is_a_near_miss(name):
    task = get_task(name)
    for ex in task.examples("train", 200, seed=0):
        assert task.reward(ex.prompt, ex.chosen) == 1.0
        assert ex.rejected != ex.chosen
        assert 0.0 <= task.reward(ex.prompt, ex.rejected) < 1.0
        assert abs(len(ex.rejected) - len(ex.chosen)) <= 1 or name == "add"


@pytest.mark.parametrize("name", sorted(TASKS))
def test_splits_are_disjoint_and_val_does_not_move_when_train_grows(name):
    task = get_task(name)
    val = task.examples("val", 32, seed=0)
    train = task.examples("train", 300, seed=0, n_val=32)
    assert not {e.prompt for e in val} & {e.prompt for e in train}
    assert len({e.prompt for e in train}) == 300
    assert task.examples("train", 100, seed=0, n_val=32) == train[:100]


def test_reward_of_known_answers():
    sort = get_task("sort")
    assert sort.reward("sort:3142=", "1234") == 1.0
    assert sort.reward("sort:3142=", " 1234 ") == 1.0          # surrounding blanks ignored
    assert sort.reward("sort:3142=", "1243") == pytest.approx(0.5)
    assert sort.reward("sort:3142=", "") == 0.0
    assert get_task("add").reward("add:12+345=", "357") == 1.0
    assert get_task("reverse").reward("rev:abc=", "cba") == 1.0


def test_unknown_task_suggests_a_name():
    with pytest.raises(UsageError) as info:
        get_task("srot")
    assert info.value.hint == "did you mean 'sort'?"
