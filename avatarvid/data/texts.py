"""Random English sentences for the speech corpus: statements, questions, numbers, lists,
short interjections and long sentences with pauses, so the synthesised speech covers the
phonemes, rhythms and pause patterns that real talking-head audio has."""

from __future__ import annotations

import numpy as np

_NOUNS = (
    "weather house morning project river window coffee teacher market bridge garden music "
    "computer mountain city problem answer question family budget picture museum airport "
    "doctor bicycle kitchen letter meeting paper phone story village yellow bus purple box "
    "machine ocean pepper rhythm shoe judge thumb vision measure treasure church orange"
)
_VERBS = (
    "bought found moved opened built watched fixed painted checked visited shared changed "
    "played taught measured pushed broke cleaned carried wrote mapped sold"
)
_ADJ = (
    "big small bright quiet sharp heavy warm cheap smooth rough beautiful strange famous "
    "modern broken empty busy hungry lovely massive"
)
_NAMES = "Maria John Peter Bob Zoe Mike Sophie Thomas Vivian Charles Wendy Fiona George"
_PLACES = "Boston Paris London Tokyo Berlin Mumbai Sydney Chicago Vienna Bristol"
_WORDS = "well okay yes no really right exactly maybe absolutely wow hmm please thanks sure"


def _pick(rng: np.random.Generator, words: str) -> str:
    """A random word of the space-separated `words`."""
    options = words.split()
    return options[rng.integers(len(options))]


def _number(rng: np.random.Generator) -> str:
    kind = rng.integers(4)
    if kind == 0:
        return str(int(rng.integers(0, 100)))
    if kind == 1:
        return str(int(rng.integers(100, 100000)))
    if kind == 2:
        return f"{rng.uniform(0, 100):.2f}"
    return str(int(rng.integers(1900, 2050)))


def sentence(rng: np.random.Generator) -> str:
    """One sentence of a random kind, ending in its punctuation."""
    n, v, a, who = _pick(rng, _NOUNS), _pick(rng, _VERBS), _pick(rng, _ADJ), _pick(rng, _NAMES)
    place = _pick(rng, _PLACES)
    kind = rng.integers(9)
    if kind == 0:
        return f"{who} {v} the {a} {n} in {place}."
    if kind == 1:
        return f"Did you see the {a} {n} that {who} {v}?"
    if kind == 2:
        return f"It cost {_number(rng)} dollars, and it took {_number(rng)} days."
    if kind == 3:
        return f"{_pick(rng, _WORDS).capitalize()}!"
    if kind == 4:
        items = ", ".join(_pick(rng, _NOUNS) for _ in range(int(rng.integers(3, 6))))
        return f"We need a {items}, and a {_pick(rng, _NOUNS)}."
    if kind == 5:
        return f"Why would {who} ever go to {place}... in {_number(rng)}?"
    if kind == 6:
        return (
            f"When the {n} was {a}, {who} {v} it very carefully, because nobody in {place} "
            f"had ever {_pick(rng, _VERBS)} a {_pick(rng, _ADJ)} {_pick(rng, _NOUNS)} before."
        )
    if kind == 7:
        return f"{_pick(rng, _WORDS).capitalize()}, {who}. The {n} is {a}."
    return f"How many {n}s did you count? About {_number(rng)}."


def paragraph(rng: np.random.Generator, min_words: int = 8) -> str:
    """A few sentences, at least `min_words` words long, so utterances last several seconds."""
    parts: list[str] = []
    while sum(len(p.split()) for p in parts) < min_words:
        parts.append(sentence(rng))
    return " ".join(parts)
