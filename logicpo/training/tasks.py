"""Built-in synthetic tasks with a known ground-truth reward: alignment without downloads.

Each task makes prompts with one correct answer. The chosen response is the answer, the
rejected one a plausible near miss (two neighbours swapped, a digit dropped or repeated, a
forgotten carry). :meth:`Task.reward` scores any response in [0, 1] against the truth, so
greedy generations on the validation split measure how well the policy learned the task.

A task can also give more than two responses a row (issue 13): ``responses=K`` ranks K of
them (``yw``, ``yl``, ``yl2``, ...) and ``gold=True`` adds the answer as the gold response
``yg``. Without a gold response, rank 1 is the answer and ranks 2 to K are K - 1 distinct
near misses; with one, the answer is the gold and ranks 1 to K are K distinct near misses
(as in TPO, where the gold response is better than both ranked ones). Near misses are
ranked by their task reward, best first, and drawn so that their rewards differ where the
prompt allows (ties in reward keep the order in which they were drawn).

>>> task = get_task("sort")
>>> ex = task.examples("train", 3, seed=0)[0]
>>> task.reward(ex.prompt, ex.chosen), task.reward(ex.prompt, ex.rejected) < 1
(1.0, True)
>>> task.examples("train", 3, seed=0) == task.examples("train", 3, seed=0)
True
>>> ex = task.examples("train", 1, seed=0, responses=3, gold=True)[0]
>>> sorted(ex.responses), task.reward(ex.prompt, ex.responses["yg"])
(['yg', 'yl', 'yl2', 'yw'], 1.0)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from logicpo.errors import UsageError, did_you_mean
from logicpo.logic import atoms
from logicpo.training.data import PreferenceExample

SPLITS = ("train", "val")
#: The most responses a task ranks per row (enough for listwise losses, few enough that
#: the shortest answers still have that many distinct near misses).
MAX_RESPONSES = 8


@dataclass(frozen=True)
class Task:
    """A family of prompts with a computable answer and a near-miss generator."""

    name: str
    description: str
    make_prompt: Callable[[random.Random], str]
    answer: Callable[[str], str]
    near_miss: Callable[[random.Random, str, str], str]
    max_new_tokens: int

    def reward(self, prompt: str, response: str) -> float:
        """Share of answer positions the response gets right (1.0 exactly when correct)."""
        truth = self.answer(prompt)
        response = response.strip()
        if response == truth:
            return 1.0
        hits = sum(a == b for a, b in zip(truth, response, strict=False))
        return hits / max(len(truth), len(response), 1)

    def examples(self, split: str, n: int, seed: int = 0, n_val: int | None = None, *,
                 responses: int = 2, gold: bool = False) -> list[PreferenceExample]:
        """``n`` examples of a split. Prompts of the two splits never overlap.

        The validation split is drawn first from the seed's stream (its size fixed by
        ``n_val``, default ``n`` for ``split="val"``, else 64), so it does not change when
        the training split grows. ``responses`` ranked responses a row (2 to
        ``MAX_RESPONSES``) and a ``gold`` one: see the module text. The prompts do not
        depend on them, and with the defaults the rows are those of every earlier version.
        """
        if split not in SPLITS:
            raise UsageError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
        check_responses(responses)
        n_val = n if (split == "val" and n_val is None) else (64 if n_val is None else n_val)
        prompts = self._unique_prompts(n_val + (n if split == "train" else 0), seed)
        chosen = prompts[:n_val] if split == "val" else prompts[n_val:]
        return [self._example(p, seed, responses, gold) for p in chosen]

    def _unique_prompts(self, count: int, seed: int) -> list[str]:
        rng = random.Random(f"{self.name}:{seed}")
        seen: dict[str, None] = {}
        for _ in range(50 * count + 100):
            if len(seen) == count:
                break
            seen.setdefault(self.make_prompt(rng), None)
        if len(seen) < count:
            raise UsageError(f"task {self.name!r} cannot make {count} distinct prompts")
        return list(seen)

    def _example(self, prompt: str, seed: int, responses: int = 2, gold: bool = False
                 ) -> PreferenceExample:
        truth = self.answer(prompt)
        rng = random.Random(f"{self.name}:{seed}:{prompt}")
        if responses == 2 and not gold:  # the classic pair, drawn exactly as it always was
            return PreferenceExample(prompt, truth, self.near_miss(rng, prompt, truth))
        misses = self._near_misses(rng, prompt, truth, responses - (not gold))
        misses.sort(key=lambda m: -self.reward(prompt, m))  # stable: ties keep draw order
        ranked = misses if gold else [truth, *misses]
        others = {atoms.ranked_response(rank): text
                  for rank, text in enumerate(ranked[2:], start=3)}
        if gold:
            others["yg"] = truth
        ordered = tuple(sorted(others.items(), key=lambda kv: atoms.response_key(kv[0])))
        return PreferenceExample(prompt, ranked[0], ranked[1], ordered)

    def _near_misses(self, rng: random.Random, prompt: str, truth: str, k: int) -> list[str]:
        """``k`` distinct near misses, preferring ones whose rewards differ: a pool of
        distinct misses (the task's own edits, then edits of those), of which those with a
        new reward come first, in the order they were drawn."""
        pool: dict[str, None] = {}
        for _ in range(20 * k):
            pool.setdefault(self.near_miss(rng, prompt, truth), None)
        for _ in range(20 * k):  # a short answer may have too few one-edit misses
            if len(pool) >= 4 * k:
                break
            pool.setdefault(_edit_near_miss(rng, prompt, rng.choice(list(pool))), None)
        pool.pop(truth, None)
        longer = truth
        while len(pool) < k:  # always distinct, never the answer: the last resort
            longer += truth[-1]
            pool.setdefault(longer, None)
        seen: set[float] = set()
        fresh, rest = [], []
        for miss in pool:
            reward = self.reward(prompt, miss)
            (rest if reward in seen else fresh).append(miss)
            seen.add(reward)
        return (fresh + rest)[:k]


# ------------------------------------------------------------ near misses
def _swap_neighbours(rng: random.Random, text: str) -> str | None:
    spots = [i for i in range(len(text) - 1) if text[i] != text[i + 1]]
    if not spots:
        return None
    i = rng.choice(spots)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def _drop_one(rng: random.Random, text: str) -> str | None:
    if len(text) < 2:
        return None
    i = rng.randrange(len(text))
    return text[:i] + text[i + 1:]


def _repeat_one(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text))
    return text[:i + 1] + text[i] + text[i + 1:]


def _edit_near_miss(rng: random.Random, prompt: str, truth: str) -> str:
    """A swap, a drop or a repeat: near misses of the same, shorter and longer length."""
    for _ in range(10):
        edit = rng.choice((_swap_neighbours, _drop_one, _repeat_one))
        miss = edit(rng, truth)
        if miss and miss != truth:
            return miss
    return truth + truth[-1]


# ------------------------------------------------------------ the tasks
def _sort_prompt(rng: random.Random) -> str:
    return "sort:" + "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 8))) + "="


def _sort_answer(prompt: str) -> str:
    return "".join(sorted(prompt[len("sort:"):-1]))


def _rev_prompt(rng: random.Random) -> str:
    return "rev:" + "".join(rng.choice("abcdefghij") for _ in range(rng.randint(3, 8))) + "="


def _rev_answer(prompt: str) -> str:
    return prompt[len("rev:"):-1][::-1]


def _add_prompt(rng: random.Random) -> str:
    return f"add:{rng.randint(10, 999)}+{rng.randint(10, 999)}="


def _add_answer(prompt: str) -> str:
    a, b = prompt[len("add:"):-1].split("+")
    return str(int(a) + int(b))


def _add_near_miss(rng: random.Random, prompt: str, truth: str) -> str:
    """A forgotten carry when there is one, else one digit off by one."""
    a, b = (int(x) for x in prompt[len("add:"):-1].split("+"))
    no_carry = int("".join(str((int(x) + int(y)) % 10) for x, y in
                           zip(str(a).zfill(4), str(b).zfill(4), strict=True)))
    if no_carry != a + b and rng.random() < 0.5:
        return str(no_carry)
    i = rng.randrange(len(truth))
    digit = int(truth[i])
    digit = digit + 1 if digit < 9 and (digit == 0 or rng.random() < 0.5) else digit - 1
    miss = truth[:i] + str(digit) + truth[i + 1:]
    return miss if miss != truth else truth + "0"


TASKS: dict[str, Task] = {
    "sort": Task("sort", "sort 3 to 8 digits ascending: sort:3142= -> 1234",
                 _sort_prompt, _sort_answer, _edit_near_miss, 9),
    "reverse": Task("reverse", "reverse 3 to 8 letters: rev:abc= -> cba",
                    _rev_prompt, _rev_answer, _edit_near_miss, 9),
    "add": Task("add", "add two numbers of 2 or 3 digits: add:12+345= -> 357",
                _add_prompt, _add_answer, _add_near_miss, 5),
}


def check_responses(responses: int) -> None:
    """Refuse a number of ranked responses a task cannot give."""
    if isinstance(responses, bool) or not isinstance(responses, int) or \
            not 2 <= responses <= MAX_RESPONSES:
        raise UsageError(f"a task ranks 2 to {MAX_RESPONSES} responses a row, not {responses!r}",
                         hint="2 is the winner and the loser; 3 adds yl2, 4 adds yl3, ...")


def task_responses(responses: int = 2, gold: bool = False) -> tuple[str, ...]:
    """The responses each row of a task has, asked for ``responses`` ranked ones and a
    ``gold`` one.

    >>> task_responses(3, gold=True)
    ('yw', 'yl', 'yg', 'yl2')
    """
    names = [atoms.ranked_response(r) for r in range(1, responses + 1)] + ["yg"] * gold
    return tuple(sorted(names, key=atoms.response_key))


def get_task(name: str) -> Task:
    """The built-in task called ``name`` (a :class:`UsageError` naming the others if none)."""
    try:
        return TASKS[name]
    except KeyError:
        hint = did_you_mean(name, TASKS) or f"the tasks are {', '.join(TASKS)}"
        raise UsageError(f"unknown task {name!r}", hint=hint) from None
